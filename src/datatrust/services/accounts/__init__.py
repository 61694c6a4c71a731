"""People and organisations: sign-up, sessions, organisations and their vetting, password
rules, the inbox and mail."""
