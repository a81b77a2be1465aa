package services

// Binary is findBinary, for the test of a missing server binary.
var Binary = findBinary
