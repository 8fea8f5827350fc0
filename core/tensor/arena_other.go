//go:build !unix

package tensor

import "os"

func createArenaFile(ArenaKind) (*os.File, error) { return nil, ErrArenaUnsupported }

func mapArena(*os.File, int64) ([]byte, error) { return nil, ErrArenaUnsupported }

func unmapArena([]byte) error { return nil }
