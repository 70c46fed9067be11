"""Tests of bot/matching."""
