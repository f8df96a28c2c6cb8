package transformer

// PoisonArena makes a fill what it lends unzeroed, and what it takes back, with NaN (see
// arenaPool.poison), for the tests of package transformer_test.
func PoisonArena(a *Arena) { a.p.poison = true }
