"""The event worker (``order-platform worker``): the stock-validation and inventory-update
consumers."""
