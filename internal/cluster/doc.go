// Package cluster scales stellarfeed out over NATS: several processes,
// on one machine or many, share the WebSocket clients, the ingest API and
// the monitor targets. A single process without NATS stays the default;
// nothing here runs unless the config names cluster.nats.
//
// # Topology
//
// Config.NATS is a nats:// URL (production: a 3-server NATS cluster with
// JetStream, see docs/deploy.md) or "embedded": the first stellarfeed
// process on the box that binds EmbeddedListen runs nats-server with
// JetStream in DataDir/nats, and the others connect to it as clients. It
// is the simplest option for one box, and for tests, but that process is
// the single point of failure: when it stops, the others lose the bus
// until it comes back (their clients keep their connections; pings stop).
// Every node may play any Role: broadcast, engine, ingest.
//
// # Pings: the bus
//
// Ingest and engine nodes publish with BusPublisher (the api.Publisher and
// engine.Publisher of cluster mode) on subject "<prefix>.pings": the body
// is the ping's JSON as encoded once by the accepting node, site and region
// travel in headers. Each broadcaster node subscribes once (no queue group)
// and frames each ping once with wire.FromPayload for its local
// hub, so a ping accepted by any node reaches the clients of every node
// once. The publishing node hands its own pings to its hub directly and
// skips their bus copy, so its clients get them while NATS is down.
//
// # NATS down or partitioned
//
// Every node keeps serving: clients stay connected, handshakes are checked
// against the local key store, and pings a node ingests or its engine
// finds reach its own clients. Pings do not cross to other nodes until the
// connection is back, and are not buffered for later (the client's
// reconnect buffer is off): a late copy would be a repeat for islands
// whose own engine pinged the restock meanwhile. The client reconnects
// forever, backing off from 250 ms to 4 s with jitter; the outage is
// logged once when it starts and once when it ends. Membership entries
// stop being refreshed, so after NodeTTL each engine node runs every
// target and claims fail open (see Claim); their dedupe state then knows
// every product, so the re-sharding after the heal pings nothing again.
//
// The bus is core NATS, at most once, chosen over JetStream for latency
// (a restock ping loses its value within seconds; core NATS adds ~100 µs
// on a LAN, a JetStream publish-ack and consumer roughly 1 ms and a disk
// write) and because replay has nobody to serve: a broadcaster that
// restarts has no clients until it is back, and clients that moved to
// another node get that node's live feed. What core NATS loses: pings
// published while a broadcaster is disconnected from NATS but still has
// clients (seconds, during a NATS server failover), and pings a publisher
// buffers past 8 MiB while reconnecting. The ingest API answers 202 once
// the ping is in the client's outgoing buffer, not once delivered.
//
// # Keys
//
// Each node keeps its keys.Store (bbolt + in-memory snapshot) as the auth
// path: a handshake never waits on the network. SyncKeys mirrors it with
// the JetStream KV bucket "<prefix>_keys" (hash of the secret, never the
// secret): local changes are put, the bucket is watched and remote
// changes applied with keys.Store.Apply, which notifies the store's
// subscribers, so a revocation on one node closes the key's connections on
// every node, typically within milliseconds (test: under a second).
// Concurrent changes to one key: the last put wins on every node, except
// that a revocation is final.
//
// MaxConns holds across the cluster with shared counters: every
// ConnsInterval (200 ms) a broadcaster publishes each limited key's local
// count (live + handshaking) to "<prefix>_conns"; Authenticate adds the
// counts of the other live nodes. Consistency window: a connection is seen
// by other nodes ConnsInterval + one KV round trip (~1 ms LAN) after its
// handshake, so handshakes for one key on different nodes within that
// window can each pass: a key may briefly exceed MaxConns by at most the
// handshakes it makes on other nodes during ~200 ms; the excess is not
// closed. A node that crashes stops counting after NodeTTL.
//
// # Engine sharding and claims
//
// Members: every node heartbeats into "<prefix>_nodes"; a node silent for
// NodeTTL (5 s) is gone, a node that closes leaves at once. Targets are
// assigned to the live engine nodes by rendezvous hashing of
// engine.TargetID (FilterTargets); on Changes the caller re-applies, so a
// dead node's targets resume elsewhere within NodeTTL + Heartbeat +
// the engine's ReloadInterval (~7 s by default). Dedupe state stays per
// node; what is shared is the claim: before a Restock is emitted,
// engine.Options.Claim = Cluster.Claim creates (site, region, sku, offer)
// in "<prefix>_claims" with create-if-absent (compare-and-set on the
// revision), whose entries live ClaimWindow. So two engine nodes that
// briefly own one target during a membership change (or are configured
// with the same targets) emit one restock once. A node that takes over a
// target starts it fresh: its first check only records (first-run
// suppression), unless the engine's FirstRunSuppression is off.
//
// # Usage sketch
//
//	cl, err := cluster.Start(ctx, cluster.Config{NATS: "nats://nats:4222", NodeID: "ws-1"}, log)
//	defer cl.Close()
//	err = cl.SyncKeys(ctx, keyStore)      // before serving clients
//	err = cl.Subscribe(hub)               // broadcaster nodes
//	pub := cl.Publisher()                 // ingest API and engine HubOutput publish here
//	opts.Claim = cl.Claim                 // engine nodes
//	eng.ApplyTargets(cl.Members().FilterTargets(all))
//	for range cl.Members().Changes() { eng.ApplyTargets(cl.Members().FilterTargets(all)) }
//	ln, err := listen.TCP(ctx, ":8080", true)     // SO_REUSEPORT (internal/listen)
package cluster
