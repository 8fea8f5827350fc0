// Package codec converts between the plain Go values that plexus hosts and plugins
// work with and the plexus.v1 messages, including tensors placed in a shared-memory
// arena. The host (core/plugin) and the SDK (plugins/sdk) share it so both sides of
// the protocol encode and decode exactly alike.
package codec

import (
	"math"

	"github.com/hashicorp/go-plugin"
)

// Application protocol versions of the go-plugin handshake.
const (
	// ProtocolV1 moves every tensor inline in the gRPC messages.
	ProtocolV1 = 1
	// ProtocolV2 adds the shared-memory arena (PLEXUS_ARENA_FD, ArenaRef).
	ProtocolV2 = 2
	// ProtocolLatest is what this build of host and SDK speak best.
	ProtocolLatest = ProtocolV2
)

// PluginKey names the one go-plugin plugin a plexus plugin process serves.
const PluginKey = "stage"

// EnvArenaFD names the environment variable carrying the arena's descriptor number in
// the plugin process (the file is inherited through exec.Cmd.ExtraFiles).
const EnvArenaFD = "PLEXUS_ARENA_FD"

// EnvDevice carries the device a plugin process was started for ("cpu", "gpu:0").
const EnvDevice = "PLEXUS_DEVICE"

// CapabilityArena is published in Describe by plugins that read and write the arena.
const CapabilityArena = "arena"

// MaxMessageSize raises gRPC's 4 MiB default so inline tensors up to 2 GiB fit.
const MaxMessageSize = math.MaxInt32

// Handshake is the go-plugin handshake every plexus plugin uses. The cookie only
// stops a plugin binary from being run by hand by mistake; it is not a secret.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolV1,
	MagicCookieKey:   "PLEXUS_PLUGIN_COOKIE",
	MagicCookieValue: "d2f8c3e1-plexus-stage-plugin",
}
