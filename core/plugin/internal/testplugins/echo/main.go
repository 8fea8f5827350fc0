// Command echo serves sdk.Echo; the host tests and the transport benchmark run it.
package main

import "github.com/plexusml/plexus/plugins/sdk"

func main() { sdk.Serve(sdk.Echo{}) }
