"""The localisation maths: score maps -> uint8 levels -> boxes at every threshold -> metrics."""
