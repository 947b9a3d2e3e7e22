"""The event worker (``order-worker``): the stock-validation and inventory-update consumers."""
