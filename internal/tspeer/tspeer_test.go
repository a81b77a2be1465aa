package tspeer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A node_modules counts as installed only when npm ci stamped it with the
// hash of the package-lock.json it installed from: one from an older lock,
// or from before the stamp existed, is installed anew.
func TestInstalledFollowsTheLock(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "node_modules", "abxbus"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "node_modules", "abxbus", "package.json"), []byte(`{}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(`{"v":1}`), 0o600))

	sum, ok, err := installed(dir)
	require.NoError(t, err)
	assert.False(t, ok, "no stamp: installed before the lock was followed")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "node_modules", stampFile), []byte(sum+"\n"), 0o600))
	_, ok, err = installed(dir)
	require.NoError(t, err)
	assert.True(t, ok)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(`{"v":2}`), 0o600))
	_, ok, err = installed(dir)
	require.NoError(t, err)
	assert.False(t, ok, "the lock changed since")

	_, _, err = installed(t.TempDir())
	assert.Error(t, err, "no package-lock.json")
}
