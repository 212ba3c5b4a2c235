"""Partner companies (お取引先様): applications, registration, users and their login."""
