"""The read API: orders and the catalogue, on the reader endpoint."""
