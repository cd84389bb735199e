"""Data: checksummed shipped files, generated data sets and loaders for real external data."""
