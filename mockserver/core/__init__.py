"""What every vendor shares: the clock, tenants, routing, the journal, contracts."""
