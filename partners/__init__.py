"""The registry: programs, tiers, partners, venues, terminals, offers, members."""
