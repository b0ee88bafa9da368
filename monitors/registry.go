package monitors

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// registry maps site names to constructors. It is written only from init
// functions (Register) and read afterwards.
var (
	registryMu sync.RWMutex
	registry   = map[string]func() Monitor{}
)

// Register makes a monitor available by name. It is meant for init
// functions: an empty name, a nil constructor or a duplicate name is a
// programming error and panics.
func Register(name string, newFn func() Monitor) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || name != strings.ToLower(name) {
		panic(fmt.Sprintf("monitors: Register: bad name %q", name))
	}
	if newFn == nil {
		panic("monitors: Register: nil constructor for " + name)
	}
	if _, dup := registry[name]; dup {
		panic("monitors: Register called twice for " + name)
	}
	registry[name] = newFn
}

// New returns a fresh monitor for the named site.
func New(name string) (Monitor, error) {
	registryMu.RLock()
	newFn, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown site %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return newFn(), nil
}

// Names lists the registered sites, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
