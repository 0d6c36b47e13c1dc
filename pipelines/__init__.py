"""Dagster code and command line of the CRM warehouse."""
