"""One module per area of the server; each has `register(server)`."""
