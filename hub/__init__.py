"""Coalition Hub: the application package (kernel + application floor)."""
