"""contacts-server: a GraphQL API for a CRM's address book."""
