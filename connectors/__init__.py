"""Outbound connectors (coalition CRM contract, REST, iiko, amoCRM) and the outbox dispatcher."""
