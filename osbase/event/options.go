package event

// GetOption changes what Watcher.Get waits for. Options are built with the functions in this
// package (currently only Filter) and read by implementations through ResolveGetOptions.
type GetOption[T any] func(*GetOptions[T])

// GetOptions is the resolved form of a list of GetOption. Implementations of Value use it; users
// of values do not need it.
type GetOptions[T any] struct {
	// Predicate, if not nil, must return true for a value to be returned by Get.
	Predicate func(T) bool
}

// Filter makes Get skip values for which pred returns false and keep waiting, e.g. "wait until
// the node is UP". Several filters must all accept a value. pred is called without any lock
// held, once per value that the watcher sees, and should be quick and free of side effects.
func Filter[T any](pred func(T) bool) GetOption[T] {
	return func(o *GetOptions[T]) {
		prev := o.Predicate
		if prev == nil {
			o.Predicate = pred
			return
		}
		o.Predicate = func(v T) bool { return prev(v) && pred(v) }
	}
}

// ResolveGetOptions applies opts in order and returns the result.
func ResolveGetOptions[T any](opts []GetOption[T]) GetOptions[T] {
	var o GetOptions[T]
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Accepts reports whether v passes the resolved filters.
func (o GetOptions[T]) Accepts(v T) bool {
	return o.Predicate == nil || o.Predicate(v)
}
