"""The visit domain: creating and changing visits, their input and JSON shape, home programs, invitations, and what live rooms tell the database."""
