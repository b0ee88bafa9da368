package abuse

func keyChecks() []Check       { return nil }
func handshakeChecks() []Check { return nil }
func frameChecks() []Check     { return nil }
func ingestChecks() []Check    { return nil }
func slowChecks() []Check      { return nil }
func stormChecks() []Check     { return nil }
func lockoutChecks() []Check   { return nil }
