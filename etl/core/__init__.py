"""Settings, UTC days and hashed tokens: what every part imports, importing no other part."""
