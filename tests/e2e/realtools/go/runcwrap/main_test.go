package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpecFileFindsTheBundleOrTheProcessFile(t *testing.T) {
	cases := map[string]string{
		"--root /run/x --log /l --log-format json create --bundle /b id": "/b/config.json",
		"create -b /b id":            "/b/config.json",
		"run --bundle=/b id":         "/b/config.json",
		"--systemd-cgroup create id": "config.json",
		"exec --process /p.json id":  "/p.json",
		"exec -t id sh":              "",
		"start id":                   "",
		"--version":                  "",
	}
	for args, want := range cases {
		if got := specFile(strings.Fields(args)); got != want {
			t.Errorf("%q: got %q, want %q", args, got, want)
		}
	}
}

func TestRewriteDropsTheCapabilityAndANegativeOomScore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	spec := `{"ociVersion":"1.0.2","process":{"oomScoreAdj":-998,"capabilities":{` +
		`"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"]}},` +
		`"linux":{"resources":{"memory":{"limit":9223372036854771712}}}}`
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(path); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(path)
	got := string(out)
	for _, want := range []string{`"bounding":["CAP_CHOWN"]`, `"effective":[]`, `"oomScoreAdj":0`,
		`9223372036854771712`} {
		if !strings.Contains(got, want) {
			t.Errorf("rewritten spec lacks %s: %s", want, got)
		}
	}
	if strings.Contains(got, "CAP_SYS_RESOURCE") {
		t.Errorf("capability kept: %s", got)
	}
}

func TestRewriteLeavesASpecWithNothingToDropAsItIs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process.json")
	spec := `{"args":["sh"],  "capabilities":{"bounding":["CAP_CHOWN"]}, "oomScoreAdj": 5}`
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(path); err != nil {
		t.Fatal(err)
	}
	if out, _ := os.ReadFile(path); string(out) != spec {
		t.Errorf("changed: %s", out)
	}
}

func TestRewriteDropsTheCapabilityFromAnExecProcessFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process.json")
	spec := `{"args":["sh"],"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_KILL"]}}`
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(path); err != nil {
		t.Fatal(err)
	}
	if out, _ := os.ReadFile(path); strings.Contains(string(out), "CAP_SYS_RESOURCE") {
		t.Errorf("capability kept: %s", out)
	}
}
