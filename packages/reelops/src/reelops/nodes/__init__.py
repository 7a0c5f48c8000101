"""Node functions, one module per lifecycle stage."""
