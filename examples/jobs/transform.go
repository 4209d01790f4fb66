package jobs

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// This file holds the downstream jobs: each reads the Parquet files of its
// upstream partitions (located through the context file) and writes one
// Parquet file for its partition.

// sessionGap ends a session: a customer idle this long starts a new one.
const sessionGap = 30 * time.Minute

// Session is a row of analytics/sessions.
type Session struct {
	SessionID    string    `parquet:"session_id"`
	CustomerID   int64     `parquet:"customer_id"`
	Region       string    `parquet:"region,dict"`
	Country      string    `parquet:"country,dict"`
	Segment      string    `parquet:"segment,dict"`
	StartedAt    time.Time `parquet:"started_at,timestamp(millisecond)"`
	EndedAt      time.Time `parquet:"ended_at,timestamp(millisecond)"`
	Events       int64     `parquet:"events"`
	PageViews    int64     `parquet:"page_views"`
	Purchases    int64     `parquet:"purchases"`
	RevenueCents int64     `parquet:"revenue_cents"`
}

// readCustomers reads the raw/customers inputs into a map by id.
func readCustomers(c *jobContext) (map[int64]Customer, error) {
	ins, err := c.inputsOf("raw/customers")
	if err != nil {
		return nil, err
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("no raw/customers input")
	}
	out := map[int64]Customer{}
	for _, in := range ins {
		cs, err := readParquet[Customer](in.Location)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out[c.CustomerID] = c
		}
	}
	return out, nil
}

// sessionsJob stitches a day of hourly events into sessions and joins the
// customers.
func sessionsJob(ctx context.Context, e *runEnv) error {
	o, err := e.onePartition()
	if err != nil {
		return err
	}
	day, err := parseKey(dailyFmt, o.Partition)
	if err != nil {
		return err
	}
	customers, err := readCustomers(e.c)
	if err != nil {
		return err
	}
	ins, err := e.c.inputsOf("raw/events")
	if err != nil {
		return err
	}
	if len(ins) == 0 {
		return fmt.Errorf("no raw/events input for %s", o.Partition)
	}
	var evs []Event
	for _, in := range ins {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := readParquet[Event](in.Location)
		if err != nil {
			return err
		}
		evs = append(evs, rows...)
	}
	e.logf("read %d events from %d hourly partitions, %d customers", len(evs), len(ins), len(customers))
	// Event ids are unique: the order is total, so the output deterministic.
	slices.SortFunc(evs, func(a, b Event) int {
		if c := cmp.Compare(a.CustomerID, b.CustomerID); c != 0 {
			return c
		}
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.EventID, b.EventID)
	})
	end := day.AddDate(0, 0, 1)
	var out []Session
	var outside, unknown int64
	seq := map[int64]int{}
	for i := 0; i < len(evs); {
		ev := evs[i]
		if ev.Time.Before(day) || !ev.Time.Before(end) {
			outside++
			i++
			continue
		}
		cust, ok := customers[ev.CustomerID]
		if !ok {
			unknown++
			cust = Customer{CustomerID: ev.CustomerID, Region: "unknown", Country: "??", Segment: "unknown"}
		}
		seq[ev.CustomerID]++
		s := Session{SessionID: fmt.Sprintf("%s-%d-%d", o.Partition, ev.CustomerID, seq[ev.CustomerID]),
			CustomerID: ev.CustomerID, Region: cust.Region, Country: cust.Country, Segment: cust.Segment,
			StartedAt: ev.Time.UTC()}
		last := ev.Time
		for ; i < len(evs) && evs[i].CustomerID == ev.CustomerID && evs[i].Time.Sub(last) <= sessionGap; i++ {
			x := evs[i]
			if x.Time.Before(day) || !x.Time.Before(end) {
				outside++
				continue
			}
			last = x.Time
			s.Events++
			switch x.Type {
			case "page_view":
				s.PageViews++
			case "purchase":
				s.Purchases++
				s.RevenueCents += x.AmountCents
			}
		}
		s.EndedAt = last.UTC()
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.Before(out[j].StartedAt)
		}
		return out[i].SessionID < out[j].SessionID
	})
	path, err := writeParquet(o.Location, out)
	if err != nil {
		return err
	}
	e.logf("%s: %d sessions -> %s", o.Partition, len(out), path)
	if err := e.msgs.metadata(o.Partition, map[string]any{"events": len(evs), "hours": len(ins),
		"events_outside_day": outside}); err != nil {
		return err
	}
	return e.msgs.check(o.Partition, "customers_known", unknown == 0,
		fmt.Sprintf("%d sessions of customers missing from raw/customers", unknown))
}

// DailyRevenue is a row of analytics/daily_revenue: one buying customer's day.
type DailyRevenue struct {
	Date         string `parquet:"date"`
	CustomerID   int64  `parquet:"customer_id"`
	Region       string `parquet:"region,dict"`
	Segment      string `parquet:"segment,dict"`
	Sessions     int64  `parquet:"sessions"`
	Orders       int64  `parquet:"orders"`
	RevenueCents int64  `parquet:"revenue_cents"`
}

// dailyRevenueJob sums a day's sessions per buying customer.
func dailyRevenueJob(ctx context.Context, e *runEnv) error {
	o, err := e.onePartition()
	if err != nil {
		return err
	}
	ins, err := e.c.inputsOf("analytics/sessions")
	if err != nil {
		return err
	}
	if len(ins) == 0 {
		return fmt.Errorf("no analytics/sessions input for %s", o.Partition)
	}
	by := map[int64]*DailyRevenue{}
	active := map[int64]bool{}
	for _, in := range ins {
		ss, err := readParquet[Session](in.Location)
		if err != nil {
			return err
		}
		for _, s := range ss {
			active[s.CustomerID] = true
			r := by[s.CustomerID]
			if r == nil {
				r = &DailyRevenue{Date: o.Partition, CustomerID: s.CustomerID, Region: s.Region, Segment: s.Segment}
				by[s.CustomerID] = r
			}
			r.Sessions++
			r.Orders += s.Purchases
			r.RevenueCents += s.RevenueCents
		}
	}
	var out []DailyRevenue
	var cents, orders int64
	negative := 0
	for _, r := range by {
		if r.Orders == 0 {
			continue
		}
		if r.RevenueCents < 0 {
			negative++
		}
		cents += r.RevenueCents
		orders += r.Orders
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CustomerID < out[j].CustomerID })
	path, err := writeParquet(o.Location, out)
	if err != nil {
		return err
	}
	e.logf("%s: %d buyers, %d orders, EUR %.2f -> %s", o.Partition, len(out), orders, float64(cents)/100, path)
	conv := 0.0
	if len(active) > 0 {
		conv = round(float64(len(out))/float64(len(active)), 4)
	}
	if err := e.msgs.metadata(o.Partition, map[string]any{"revenue_eur": float64(cents) / 100, "orders": orders,
		"buyers": len(out), "active_customers": len(active), "conversion": conv}); err != nil {
		return err
	}
	return e.msgs.check(o.Partition, "revenue_non_negative", negative == 0,
		fmt.Sprintf("%d customers with negative revenue", negative))
}

// WeeklySummary is a row of reports/weekly_summary: a day x region x segment.
type WeeklySummary struct {
	Week       string  `parquet:"week"`
	Date       string  `parquet:"date"`
	Region     string  `parquet:"region,dict"`
	Segment    string  `parquet:"segment,dict"`
	Buyers     int64   `parquet:"buyers"`
	Orders     int64   `parquet:"orders"`
	RevenueEUR float64 `parquet:"revenue_eur"`
}

// weeklySummaryJob summarises the week's daily revenue.
func weeklySummaryJob(ctx context.Context, e *runEnv) error {
	o, err := e.onePartition()
	if err != nil {
		return err
	}
	ins, err := e.c.inputsOf("analytics/daily_revenue")
	if err != nil {
		return err
	}
	if len(ins) == 0 {
		return fmt.Errorf("no analytics/daily_revenue input for week %s", o.Partition)
	}
	type k struct{ date, region, segment string }
	by := map[k]*WeeklySummary{}
	perDay := map[string]float64{}
	var cents, orders int64
	for _, in := range ins {
		rows, err := readParquet[DailyRevenue](in.Location)
		if err != nil {
			return err
		}
		for _, r := range rows {
			key := k{r.Date, r.Region, r.Segment}
			w := by[key]
			if w == nil {
				w = &WeeklySummary{Week: o.Partition, Date: r.Date, Region: r.Region, Segment: r.Segment}
				by[key] = w
			}
			w.Buyers++
			w.Orders += r.Orders
			w.RevenueEUR += float64(r.RevenueCents) / 100
			perDay[r.Date] += float64(r.RevenueCents) / 100
			cents += r.RevenueCents
			orders += r.Orders
		}
	}
	out := make([]WeeklySummary, 0, len(by))
	for _, w := range by {
		w.RevenueEUR = round(w.RevenueEUR, 2)
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Date+a.Region+a.Segment < b.Date+b.Region+b.Segment
	})
	best, bestEUR := "", -1.0
	days := make([]string, 0, len(perDay))
	for d, v := range perDay {
		days = append(days, d)
		if v > bestEUR || (v == bestEUR && d < best) {
			best, bestEUR = d, v
		}
	}
	sort.Strings(days)
	path, err := writeParquet(o.Location, out)
	if err != nil {
		return err
	}
	e.logf("week %s: %d days, %d orders, EUR %.2f, best day %s -> %s", o.Partition, len(days), orders, float64(cents)/100, best, path)
	return e.msgs.metadata(o.Partition, map[string]any{"revenue_eur": float64(cents) / 100, "orders": orders,
		"days": strings.Join(days, ","), "best_day": best})
}

// RegionalSale is a row of analytics/regional_sales: one country, segment
// and hour of a region's day.
type RegionalSale struct {
	Date         string `parquet:"date"`
	Region       string `parquet:"region,dict"`
	Country      string `parquet:"country,dict"`
	Segment      string `parquet:"segment,dict"`
	Hour         int32  `parquet:"hour"`
	Sessions     int64  `parquet:"sessions"`
	Orders       int64  `parquet:"orders"`
	RevenueCents int64  `parquet:"revenue_cents"`
}

// regionalSalesJob breaks a day's sessions of one region down by country,
// segment and hour, and measures how much of the region's customer base
// was active.
func regionalSalesJob(ctx context.Context, e *runEnv) error {
	o, err := e.onePartition()
	if err != nil {
		return err
	}
	date, region, ok := strings.Cut(o.Partition, "|")
	if !ok {
		return fmt.Errorf("partition key %q: want DATE|REGION", o.Partition)
	}
	customers, err := readCustomers(e.c)
	if err != nil {
		return err
	}
	ins, err := e.c.inputsOf("analytics/sessions")
	if err != nil {
		return err
	}
	if len(ins) == 0 {
		return fmt.Errorf("no analytics/sessions input for %s", o.Partition)
	}
	type k struct {
		country, segment string
		hour             int32
	}
	by := map[k]*RegionalSale{}
	active := map[int64]bool{}
	var cents int64
	for _, in := range ins {
		ss, err := readParquet[Session](in.Location)
		if err != nil {
			return err
		}
		for _, s := range ss {
			if s.Region != region {
				continue
			}
			active[s.CustomerID] = true
			key := k{s.Country, s.Segment, int32(s.StartedAt.UTC().Hour())}
			r := by[key]
			if r == nil {
				r = &RegionalSale{Date: date, Region: region, Country: key.country, Segment: key.segment, Hour: key.hour}
				by[key] = r
			}
			r.Sessions++
			r.Orders += s.Purchases
			r.RevenueCents += s.RevenueCents
			cents += s.RevenueCents
		}
	}
	out := make([]RegionalSale, 0, len(by))
	for _, r := range by {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Country != b.Country {
			return a.Country < b.Country
		}
		if a.Segment != b.Segment {
			return a.Segment < b.Segment
		}
		return a.Hour < b.Hour
	})
	path, err := writeParquet(o.Location, out)
	if err != nil {
		return err
	}
	share := 0.0
	if len(customers) > 0 {
		share = round(float64(len(active))/float64(len(customers)), 4)
	}
	e.logf("%s: %d rows, %d active of %d customers, EUR %.2f -> %s", o.Partition, len(out), len(active), len(customers), float64(cents)/100, path)
	return e.msgs.metadata(o.Partition, map[string]any{"revenue_eur": float64(cents) / 100,
		"active_customers": len(active), "customers": len(customers), "active_share": share})
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
