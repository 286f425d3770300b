"""HTTP views, one module per audience or feature; `routes.register` wires them."""
