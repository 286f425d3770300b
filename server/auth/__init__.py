"""Authentication: visit links (JWT), staff accounts and sessions, integrator API keys."""
