"""In-app notifications: written with the change they announce, delivered live after commit."""
