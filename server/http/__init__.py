"""HTTP plumbing: middleware, error answers, request and query reading, the API schemas and its OpenAPI document, static files and page rendering."""
