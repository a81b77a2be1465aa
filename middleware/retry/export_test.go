package retry

// SemaphoreCount is the number of semaphores the registry holds, for the
// test that distinct keys do not make it grow.
func SemaphoreCount() int { return sems.len() }
