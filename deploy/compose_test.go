package deploy

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hepvault/hepvault/internal/livetest"
	"go.yaml.in/yaml/v4"
)

// composeFile is docker-compose.yml as docker-compose config prints it:
// validated, with paths made absolute.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build struct {
		Context string `yaml:"context"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Volumes []string `yaml:"volumes"`
}

// mounted returns the host path a path inside the container comes from,
// or "" when no bind mount holds it.
func (s composeService) mounted(inside string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !filepath.IsAbs(parts[0]) {
			continue
		}
		if rest, ok := strings.CutPrefix(inside, parts[1]); ok && (rest == "" || rest[0] == '/') {
			return parts[0] + rest
		}
	}
	return ""
}

func loadCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	bin := livetest.RequireProgram(t, "docker-compose", "docker-compose")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", filepath.Join(root, "docker-compose.yml"), "config")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("docker-compose config: %v\n%s", err, stderr)
	}
	var f composeFile
	if err := yaml.Unmarshal(out, &f); err != nil {
		t.Fatalf("docker-compose config printed what does not parse: %v\n%s", err, out)
	}
	return f, root
}

func exists(t *testing.T, what, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// The lab stands up in order, each part once the one it feeds on is
// healthy, and runs what the repo holds: hepvault from its Dockerfile,
// Kamailio with the live test's kamailio.cfg, SIPp with its scenarios.
func TestCompose(t *testing.T) {
	f, root := loadCompose(t)
	for _, name := range []string{"postgres", "hepvault", "kamailio", "sipp"} {
		if _, ok := f.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no service %q", name)
		}
	}
	pg, hv, k, sipp := f.Services["postgres"], f.Services["hepvault"], f.Services["kamailio"], f.Services["sipp"]

	if !strings.HasPrefix(pg.Image, "postgres:15") {
		t.Fatalf("unexpected PostgreSQL image %q; want postgres:15", pg.Image)
	}
	if hv.Build.Context != root {
		t.Fatalf("hepvault is built from %q; want the repo's Dockerfile in %s", hv.Build.Context, root)
	}
	exists(t, "hepvault's Dockerfile", filepath.Join(hv.Build.Context, "Dockerfile"))
	for name, s := range map[string]composeService{"kamailio": k, "sipp": sipp} {
		exists(t, name+"'s Dockerfile", filepath.Join(s.Build.Context, "Dockerfile"))
	}

	// Each waits for what it needs to be healthy, and says when it is.
	for name, dep := range map[string]string{"hepvault": "postgres", "kamailio": "hepvault", "sipp": "kamailio"} {
		if c := f.Services[name].DependsOn[dep].Condition; c != "service_healthy" {
			t.Fatalf("%s depends on %s with condition %q; want service_healthy", name, dep, c)
		}
		if len(f.Services[dep].Healthcheck.Test) == 0 {
			t.Fatalf("%s has no healthcheck", dep)
		}
	}

	// hepvault stores into the postgres service, its spool in a volume.
	u, err := url.Parse(hv.Environment["HEPVAULT_DB"])
	if err != nil || u.Hostname() != "postgres" || u.User.Username() != pg.Environment["POSTGRES_USER"] ||
		strings.TrimPrefix(u.Path, "/") != pg.Environment["POSTGRES_DB"] {
		t.Fatalf("HEPVAULT_DB %q does not name the postgres service's user and database", hv.Environment["HEPVAULT_DB"])
	}
	for name, s := range map[string]composeService{"postgres": pg, "hepvault": hv} {
		if !slices.ContainsFunc(s.Volumes, func(v string) bool { _, ok := f.Volumes[strings.Split(v, ":")[0]]; return ok }) {
			t.Fatalf("%s keeps its data in no named volume: %v", name, s.Volumes)
		}
	}

	// Kamailio runs the repo's kamailio.cfg and mirrors to hepvault.
	i := slices.Index(k.Command, "-f")
	if i < 0 || i+1 >= len(k.Command) {
		t.Fatalf("kamailio's command names no config file: %v", k.Command)
	}
	cfg := k.mounted(k.Command[i+1])
	if cfg != filepath.Join(root, "testdata", "kamailio", "kamailio.cfg") {
		t.Fatalf("kamailio runs %s from %q; want the repo's testdata/kamailio/kamailio.cfg", k.Command[i+1], cfg)
	}
	if !slices.ContainsFunc(k.Command, func(a string) bool { return strings.HasPrefix(a, `HEP_URI="sip:hepvault:`) }) {
		t.Fatalf("kamailio's siptrace is not pointed at the hepvault service: %v", k.Command)
	}
	// Its healthcheck's scenario, and every scenario the traffic profile
	// plays, are where the containers will look for them.
	hc := k.Healthcheck.Test
	if j := slices.Index(hc, "-sf"); j < 0 || k.mounted(hc[j+1]) == "" {
		t.Fatalf("kamailio's healthcheck plays no scenario mounted from the repo: %v", hc)
	} else {
		exists(t, "kamailio's healthcheck scenario", k.mounted(hc[j+1]))
	}
	profile, err := os.ReadFile(filepath.Join(sipp.Build.Context, "traffic.sh"))
	if err != nil {
		t.Fatal(err)
	}
	scenarios := sipp.mounted("/scenarios")
	if scenarios == "" {
		t.Fatalf("sipp mounts no scenarios at /scenarios: %v", sipp.Volumes)
	}
	played := regexp.MustCompile(`-sf (\S+\.xml)`).FindAllStringSubmatch(string(profile), -1)
	if len(played) < 4 {
		t.Fatalf("unexpected traffic profile: %d scenarios played", len(played))
	}
	for _, m := range played {
		exists(t, "a scenario of traffic.sh", filepath.Join(scenarios, m[1]))
	}
}
