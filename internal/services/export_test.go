package services

// Binary is binary, for the test of a missing server binary.
var Binary = binary
