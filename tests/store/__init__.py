"""Tests of bot/store."""
