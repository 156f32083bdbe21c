"""The project's SQL database: SQLAlchemy models, sessions and one repository per aggregate."""
