"""The bundled incidents (native JSON), installed as the package data ``bot.seeddata``."""
