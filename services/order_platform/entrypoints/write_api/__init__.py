"""The write API: orders and catalogue administration, on the writer endpoint."""
