"""The Visitroom web server: the aiohttp application, its storage, views and library."""
