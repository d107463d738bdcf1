"""Task functions of the Django task API, run by Parseq's backend in the tests."""
