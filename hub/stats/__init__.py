"""Statistics: daily rollups kept as receipts close, venue and program reports, the summary, RFM segments."""
