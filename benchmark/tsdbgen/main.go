// Command tsdbgen writes a synthetic Prometheus TSDB: blocks for the history
// and a head (as a WAL) for the most recent samples, from a list of series
// that the Python side of the benchmark derives from the metrics catalog.
//
// It is built against the Prometheus module of the deployed release, so the
// blocks and the WAL are in exactly the format that release reads. It writes
// with the TSDB's own block writer instead of `promtool tsdb
// create-blocks-from openmetrics`, which parses its whole input once per block
// and would spend hours on text at the largest scale.
//
//	tsdbgen -plan plan.json -series series.jsonl -out DIR
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Tier: from this time on, samples are this many milliseconds apart.
type Tier struct {
	From     int64 `json:"from"`
	Interval int64 `json:"interval"`
}

// Plan: what to write, decided by the Python side.
type Plan struct {
	TierSets  [][]Tier   `json:"tier_sets"` // a series samples on the set its TierSet names
	Blocks    [][2]int64 `json:"blocks"`    // [mint, maxt) of each block, oldest first
	HeadFrom  int64      `json:"head_from"`
	Now       int64      `json:"now"`
	Workers   int        `json:"workers"`
	Retention int64      `json:"retention"` // ms; the head's DB must not delete the blocks it finds
	// At most this many samples go through one block writer, which keeps them
	// all in memory: a longer block is written in pieces, then compacted.
	PieceSamples int64 `json:"piece_samples"`
}

// Series: one series and how its value moves.
//
//	counter: floor(A * seconds since the process started) + B, an integer count as a client library exposes it
//	created: the time the process started, in seconds (a counter's _created series)
//	gauge:   A + B * sin(2 pi t / Period + phase)
//	const:   A
//
// The process starts at Start, and again every Restart milliseconds after
// RestartAt when Restart > 0 (a backend restarted by each deploy, whose
// counters start again from zero under the same labels).
type Series struct {
	Labels    map[string]string `json:"l"`
	Kind      string            `json:"k"`
	Start     int64             `json:"s"`
	End       int64             `json:"e"`
	A         float64           `json:"a"`
	B         float64           `json:"b"`
	Period    int64             `json:"p"`
	Interval  int64             `json:"i"` // the series' own minimum sample spacing (a rule's interval), 0 for none
	Phase     float64           `json:"ph"`
	Restart   int64             `json:"r"`
	RestartAt int64             `json:"ra"`
	TierSet   int               `json:"t"`
	NaN       bool              `json:"nan"` // the value is NaN (JSON has none) // which of the plan's tier sets it samples on
	lbls      labels.Labels
}

func (s *Series) started(t int64) int64 {
	if s.Restart <= 0 {
		return s.Start
	}
	k := (t - s.RestartAt) / s.Restart
	if (t-s.RestartAt)%s.Restart < 0 {
		k--
	}
	return max(s.Start, s.RestartAt+k*s.Restart)
}

func (s *Series) value(t int64) float64 {
	if s.NaN {
		return math.NaN()
	}
	switch s.Kind {
	case "counter":
		return math.Floor(s.A*float64(t-s.started(t))/1000) + s.B
	case "created":
		return float64(s.started(t)) / 1000
	case "gauge":
		period := float64(s.Period)
		if period <= 0 {
			period = float64(6 * time.Hour / time.Millisecond)
		}
		return s.A + s.B*math.Sin(2*math.Pi*float64(t)/period+s.Phase)
	default:
		return s.A
	}
}

func (p *Plan) interval(t int64, s *Series) int64 {
	tiers := p.TierSets[s.TierSet]
	own := s.Interval
	iv := tiers[0].Interval
	for _, tier := range tiers {
		if t >= tier.From {
			iv = tier.Interval
		}
	}
	if own > iv {
		return own
	}
	return iv
}

// next: the first sample time >= t on the grid of the tier that t falls in.
func (p *Plan) next(t int64, s *Series) int64 {
	iv := p.interval(t, s)
	if r := t % iv; r != 0 {
		t += iv - r
	}
	return t
}

// appendRange appends every sample of every series in [mint, maxt).
func appendRange(ctx context.Context, app func() storage.Appender, plan *Plan, series []*Series, mint, maxt int64) (int64, error) {
	a := app()
	var total, pending int64
	for _, s := range series {
		from, to := mint, maxt
		if s.Start > from {
			from = s.Start
		}
		if s.End < to {
			to = s.End
		}
		if from >= to {
			continue
		}
		var ref storage.SeriesRef
		for t := plan.next(from, s); t < to; t = plan.next(t+1, s) {
			var err error
			ref, err = a.Append(ref, s.lbls, t, s.value(t))
			if err != nil {
				return total, fmt.Errorf("append %s at %d: %w", s.lbls, t, err)
			}
			total++
			pending++
		}
		if pending > 2_000_000 {
			if err := a.Commit(); err != nil {
				return total, err
			}
			a = app()
			pending = 0
		}
	}
	return total, a.Commit()
}

func countSamples(plan *Plan, series []*Series, mint, maxt int64) int64 {
	var n int64
	for _, s := range series {
		from, to := max(mint, s.Start), min(maxt, s.End)
		for t := plan.next(from, s); t < to; {
			// Whole tiers at a time: counting sample by sample would cost as much as writing.
			iv := plan.interval(t, s)
			end := to
			for _, tier := range plan.TierSets[s.TierSet] {
				if tier.From > t && tier.From < end {
					end = tier.From
				}
			}
			n += (end - t + iv - 1) / iv
			t = plan.next(end, s)
		}
	}
	return n
}

func writePiece(ctx context.Context, dir string, plan *Plan, series []*Series, mint, maxt int64) (int64, string, error) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Twice the piece's length, as promtool does: the writer refuses samples
	// older than half its block size behind the newest one.
	w, err := tsdb.NewBlockWriter(logger, dir, 2*(maxt-mint))
	if err != nil {
		return 0, "", err
	}
	defer w.Close()
	n, err := appendRange(ctx, func() storage.Appender { return w.Appender(ctx) }, plan, series, mint, maxt)
	if err != nil || n == 0 {
		return n, "", err
	}
	id, err := w.Flush(ctx)
	return n, filepath.Join(dir, id.String()), err
}

// writeBlock writes one block covering [mint, maxt), in pieces when it holds many samples.
func writeBlock(ctx context.Context, out string, plan *Plan, series []*Series, mint, maxt int64) (int64, error) {
	pieces := int64(1)
	if plan.PieceSamples > 0 {
		pieces = (countSamples(plan, series, mint, maxt) + plan.PieceSamples - 1) / plan.PieceSamples
	}
	if pieces <= 1 {
		_, err := os.Stat(out)
		if err != nil {
			return 0, err
		}
		n, _, err := writePiece(ctx, out, plan, series, mint, maxt)
		return n, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), "tsdbgen-pieces-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	var total int64
	var dirs []string
	step := (maxt - mint + pieces - 1) / pieces
	for from := mint; from < maxt; from += step {
		n, dir, err := writePiece(ctx, tmp, plan, series, from, min(from+step, maxt))
		if err != nil {
			return total, err
		}
		total += n
		if dir != "" {
			dirs = append(dirs, dir)
		}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	compactor, err := tsdb.NewLeveledCompactor(ctx, nil, logger, []int64{maxt - mint}, chunkenc.NewPool(), nil)
	if err != nil {
		return total, err
	}
	if _, err := compactor.Compact(out, dirs, nil); err != nil {
		return total, fmt.Errorf("compact %d pieces of %d..%d: %w", len(dirs), mint, maxt, err)
	}
	return total, nil
}

func writeHead(ctx context.Context, out string, plan *Plan, series []*Series) (int64, error) {
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = plan.Retention
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := tsdb.Open(out, logger, nil, opts, nil)
	if err != nil {
		return 0, err
	}
	// The blocks are laid out as Prometheus's own compactor would leave them;
	// nothing is to be merged here, only the head written.
	db.DisableCompactions()
	// In time order, a slice at a time: the head refuses samples more than half
	// its chunk range (an hour) older than the newest it holds.
	const slice = 10 * 60 * 1000
	var n int64
	for from := plan.HeadFrom; from <= plan.Now && err == nil; from += slice {
		var written int64
		written, err = appendRange(ctx, func() storage.Appender { return db.Appender(ctx) }, plan, series, from,
			min(from+slice, plan.Now+1))
		n += written
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func readSeries(path string) ([]*Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var all []*Series
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for scanner.Scan() {
		s := &Series{}
		if err := json.Unmarshal(scanner.Bytes(), s); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s.lbls = labels.FromMap(s.Labels)
		s.Labels = nil // millions of series at the largest scale: keep one copy of the labels
		all = append(all, s)
	}
	return all, scanner.Err()
}

func main() {
	planPath := flag.String("plan", "", "plan JSON")
	seriesPath := flag.String("series", "", "series, one JSON object a line")
	out := flag.String("out", "", "TSDB directory to write")
	flag.Parse()
	raw, err := os.ReadFile(*planPath)
	if err != nil {
		fail(err)
	}
	plan := &Plan{}
	if err := json.Unmarshal(raw, plan); err != nil {
		fail(err)
	}
	for _, tiers := range plan.TierSets {
		sort.Slice(tiers, func(i, j int) bool { return tiers[i].From < tiers[j].From })
	}
	series, err := readSeries(*seriesPath)
	if err != nil {
		fail(err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	ctx := context.Background()
	started := time.Now()
	workers := plan.Workers
	if workers < 1 {
		workers = 1
	}
	var (
		mu      sync.Mutex
		total   int64
		firstEr error
		wg      sync.WaitGroup
	)
	jobs := make(chan [2]int64)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				n, err := writeBlock(ctx, *out, plan, series, b[0], b[1])
				mu.Lock()
				total += n
				if err != nil && firstEr == nil {
					firstEr = err
				}
				done := total
				mu.Unlock()
				fmt.Printf("block %d..%d: %d samples (%d so far, %.0f s)\n", b[0], b[1], n, done, time.Since(started).Seconds())
			}
		}()
	}
	for _, b := range plan.Blocks {
		jobs <- b
	}
	close(jobs)
	wg.Wait()
	if firstEr != nil {
		fail(firstEr)
	}
	n, err := writeHead(ctx, *out, plan, series)
	if err != nil {
		fail(err)
	}
	total += n
	fmt.Printf("head: %d samples; total %d samples in %.1f s\n", n, total, time.Since(started).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tsdbgen:", err)
	os.Exit(1)
}
