/*
 * service.c — service groups, SLAs and business time: business_add,
 * business_between, service_deadline and the checks the calendar tables
 * use; SQL objects in src/service.sql.  (The two-argument on_time_rate
 * shares the metrics' rate_state, in src/metrics.c.)
 *
 * Over 1000 lines because business time (calendars, zone offsets, day
 * windows) and service_deadline (which needs its calendars and a bulk read
 * of the history in the same per-statement cache) share their caches.
 *
 * Business time.  A calendar (custier.calendar + custier.calendar_day) says
 * which instants are business time: those whose wall-clock time in the
 * calendar's zone lies in [day_start, day_end) of a working day.  The set is
 * defined on instants, so a DST day is as long as its clocks say (a 01:00–
 * 04:00 window is 2 hours on the spring-forward day and 4 on the fall-back
 * day in Europe/Berlin) and the SQL reference in the tests, which tests
 * generated minutes one by one, is the definition itself.
 *
 * Per day we work out that set as at most a few [lo, hi) intervals of
 * timestamptz: the zone's UTC offset is constant on "segments" between two
 * transitions, and the day's wall-clock window maps back to one interval per
 * segment it touches.  The segments come from pg_next_dst_boundary (the
 * function PostgreSQL's own timestamp input uses) and are kept, sorted, per
 * calendar, so a day costs a binary search — usually a hint check — and no
 * localtime() call.
 *
 * Caches.  Everything read from tables (calendars, service groups, history)
 * lives in fn_extra of the call site, so it is read once per statement.  A
 * call site's FmgrInfo normally dies with its statement; the few that live
 * longer (PL/pgSQL simple expressions) are caught by a stamp: the local
 * transaction id and the command id.  A statement of our own transaction
 * that edited a calendar bumps the command id; another transaction's edit
 * can only become visible in a new transaction (repeatable read) or a new
 * statement (read committed), which a new FmgrInfo or a new stamp covers.
 * A relcache callback would not do: plain DML on a table sends none.
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "custier.h"
#include "rights.h"

PG_FUNCTION_INFO_V1(custier_business_add);
PG_FUNCTION_INFO_V1(custier_business_between);
PG_FUNCTION_INFO_V1(custier_timezone_ok);
PG_FUNCTION_INFO_V1(custier_service_deadline);
PG_FUNCTION_INFO_V1(custier_service_append_only);
PG_FUNCTION_INFO_V1(custier_tier_in_mask);

/* Offsets of real zones stay within ±16 h (LMT included). */
#define MAX_TZ_OFFSET	(INT64CONST(18) * USECS_PER_HOUR)
/* Seconds from the Unix epoch to PostgreSQL's (2000-01-01). */
#define PG_EPOCH_SECS	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)
#define MAX_SEGMENTS	4096
/* Calls answered by custier.tier_at one by one before the history is read
 * in bulk. */
#define DEADLINE_PER_ROW_CALLS 32

/* ------------------------------------------------------------------------
 * Statement stamp
 * ------------------------------------------------------------------------
 */
typedef struct Stamp
{
	LocalTransactionId lxid;
	CommandId	cid;
} Stamp;

static inline Stamp
stamp_now(void)
{
	Stamp		s;

#if PG_VERSION_NUM >= 170000
	s.lxid = MyProc->vxid.lxid;
#else
	s.lxid = MyProc->lxid;
#endif
	s.cid = GetCurrentCommandId(false);
	return s;
}

static inline bool
stamp_equal(Stamp a, Stamp b)
{
	return a.lxid == b.lxid && a.cid == b.cid;
}

static inline int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	return (a % b != 0 && (a < 0)) ? q - 1 : q;
}

/* ------------------------------------------------------------------------
 * Calendars
 * ------------------------------------------------------------------------
 */
typedef struct TzSeg
{
	TimestampTz lo;				/* the offset holds on [lo, hi) */
	TimestampTz hi;
	int64		off;			/* local = utc + off (microseconds) */
} TzSeg;

typedef struct Calendar
{
	char	   *name;
	char	   *zone;
	pg_tz	   *tz;
	uint8		workdays;		/* bit i: ISO day i + 1 works */
	int64		day_start;		/* microseconds after local midnight */
	int64		day_end;
	int			nexc;			/* calendar_day rows, by day */
	int32	   *exc_day;		/* days since 2000-01-01 */
	bool	   *exc_working;
	uint8	   *exc_state;		/* by day - exc_day[0]: 0 none, 1 off, 2 working */
	TzSeg	   *seg;			/* contiguous, sorted */
	int			nseg;
	int			hint;
	MemoryContext cxt;
} Calendar;

/* Reads a calendar as the caller (custier.calendar is readable by all). */
static Calendar *
calendar_load(const char *name, MemoryContext cxt)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Calendar   *cal;
	MemoryContext old;
	bool		isnull;
	ArrayType  *wd;
	Datum	   *elems;
	bool	   *enulls;
	int			nelems;
	char	   *zone;

	args[0] = CStringGetTextDatum(name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT c.timezone, c.workdays, c.day_start, c.day_end "
							  "FROM custier.calendar c WHERE c.name OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading custier.calendar failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("calendar \"%s\" does not exist", name),
				 errhint("Calendars are rows of custier.calendar.")));

	old = MemoryContextSwitchTo(cxt);
	cal = palloc0(sizeof(Calendar));
	cal->cxt = cxt;
	cal->name = pstrdup(name);
	zone = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	cal->zone = zone ? pstrdup(zone) : NULL;
	wd = DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (isnull)
		wd = NULL;
	cal->day_start = DatumGetTimeADT(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	cal->day_end = DatumGetTimeADT(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	MemoryContextSwitchTo(old);

	/* The table's checks hold these; a calendar read here is never trusted. */
	if (cal->zone == NULL || (cal->tz = pg_tzset(cal->zone)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" of calendar \"%s\" is not recognized",
						cal->zone ? cal->zone : "", name)));
	if (wd != NULL && ARR_NDIM(wd) <= 1)
	{
		deconstruct_array(wd, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &enulls, &nelems);
		for (int i = 0; i < nelems; i++)
			if (!enulls[i] && DatumGetInt32(elems[i]) >= 1 && DatumGetInt32(elems[i]) <= 7)
				cal->workdays |= (uint8) (1 << (DatumGetInt32(elems[i]) - 1));
	}
	if (cal->workdays == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("calendar \"%s\" has no working day", name)));
	if (!(cal->day_start >= 0 && cal->day_end > cal->day_start && cal->day_end <= USECS_PER_DAY))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("calendar \"%s\" has day_end not after day_start", name)));

	if (SPI_execute_with_args("SELECT d.day, d.working FROM custier.calendar_day d "
							  "WHERE d.calendar OPERATOR(pg_catalog.=) $1 ORDER BY d.day",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading custier.calendar_day failed");
	cal->nexc = 0;
	cal->exc_day = MemoryContextAlloc(cxt, sizeof(int32) * (SPI_processed + 1));
	cal->exc_working = MemoryContextAlloc(cxt, sizeof(bool) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		n1,
					n2;
		DateADT		day = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &n1));
		bool		working = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &n2));

		if (n1 || n2 || DATE_NOT_FINITE(day))
			continue;
		cal->exc_day[cal->nexc] = day;
		cal->exc_working[cal->nexc] = working;
		cal->nexc++;
	}
	SPI_finish();
	/* A day's exception in one load when the exceptions span < 100 years. */
	if (cal->nexc > 0 && (int64) cal->exc_day[cal->nexc - 1] - cal->exc_day[0] < 36525)
	{
		cal->exc_state = MemoryContextAllocZero(cxt, cal->exc_day[cal->nexc - 1] - cal->exc_day[0] + 1);
		for (int i = 0; i < cal->nexc; i++)
			cal->exc_state[cal->exc_day[i] - cal->exc_day[0]] = cal->exc_working[i] ? 2 : 1;
	}
	return cal;
}

static inline pg_time_t
to_unix(TimestampTz t)
{
	return (pg_time_t) floor_div(t, USECS_PER_SEC) + PG_EPOCH_SECS;
}

static inline TimestampTz
from_unix(pg_time_t s)
{
	int64		r;

	if (pg_mul_s64_overflow((int64) (s - PG_EPOCH_SECS), USECS_PER_SEC, &r))
		return (s > PG_EPOCH_SECS) ? PG_INT64_MAX : PG_INT64_MIN;
	return r;
}

/* Appends the segment starting at `from`: the offset there, up to the next
 * transition (or forever). */
static void
seg_append(Calendar *cal, TimestampTz from)
{
	pg_time_t	t = to_unix(from);
	long int	before_off,
				after_off;
	int			before_dst,
				after_dst;
	pg_time_t	boundary;
	int			r;
	TzSeg	   *s;

	r = pg_next_dst_boundary(&t, &before_off, &before_dst, &boundary, &after_off, &after_dst, cal->tz);
	if (r < 0)
		elog(ERROR, "time zone \"%s\": cannot find its UTC offsets", cal->zone);
	if (cal->seg == NULL)
		cal->seg = MemoryContextAlloc(cal->cxt, sizeof(TzSeg) * MAX_SEGMENTS);
	s = &cal->seg[cal->nseg++];
	s->lo = from;
	s->off = (int64) before_off * USECS_PER_SEC;
	s->hi = (r == 0) ? PG_INT64_MAX : from_unix(boundary);
	if (s->hi <= s->lo)			/* cannot happen; never loop on it */
		s->hi = s->lo + USECS_PER_SEC;
}

/* Index of the segment holding t. */
static int
seg_find(Calendar *cal, TimestampTz t)
{
	int			lo,
				hi,
				h = cal->hint;

	if (cal->nseg > 0 && h < cal->nseg && cal->seg[h].lo <= t && t < cal->seg[h].hi)
		return h;
	if (cal->nseg > 0 && h + 1 < cal->nseg && cal->seg[h + 1].lo <= t && t < cal->seg[h + 1].hi)
		return cal->hint = h + 1;
	if (cal->nseg == 0 || t < cal->seg[0].lo)
	{
		/* Start again a year before t, so that going back a little is cheap. */
		cal->nseg = 0;
		seg_append(cal, t > PG_INT64_MIN / 2 ? t - 366 * USECS_PER_DAY : t);
	}
	while (t >= cal->seg[cal->nseg - 1].hi)
	{
		if (cal->nseg == MAX_SEGMENTS)
		{
			cal->nseg = 0;
			seg_append(cal, t);
			break;
		}
		seg_append(cal, cal->seg[cal->nseg - 1].hi);
	}
	lo = 0;
	hi = cal->nseg - 1;
	while (lo < hi)
	{
		int			mid = (lo + hi + 1) / 2;

		if (cal->seg[mid].lo <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return cal->hint = lo;
}

/* Day number (since 2000-01-01) of t's wall-clock date. */
static int32
local_day(Calendar *cal, TimestampTz t)
{
	int			i = seg_find(cal, t);	/* may allocate cal->seg */

	return (int32) floor_div(t + cal->seg[i].off, USECS_PER_DAY);
}

static bool
day_working(Calendar *cal, int32 d)
{
	if (cal->exc_state != NULL && d >= cal->exc_day[0] && d <= cal->exc_day[cal->nexc - 1])
	{
		uint8		st = cal->exc_state[d - cal->exc_day[0]];

		if (st != 0)
			return st == 2;
	}
	else if (cal->nexc > 0 && d >= cal->exc_day[0] && d <= cal->exc_day[cal->nexc - 1])
	{
		int			lo = 0,
					hi = cal->nexc - 1;

		while (lo <= hi)
		{
			int			mid = (lo + hi) / 2;

			if (cal->exc_day[mid] == d)
				return cal->exc_working[mid];
			if (cal->exc_day[mid] < d)
				lo = mid + 1;
			else
				hi = mid - 1;
		}
	}
	/* 2000-01-01 was a Saturday (ISO day 6). */
	return (cal->workdays >> (int) ((((int64) d % 7) + 7 + 5) % 7)) & 1;
}

#define MAX_WINDOWS 8

/*
 * The business time of day d as sorted, disjoint [a, b) intervals: the
 * instants whose wall-clock time is in [d + day_start, d + day_end).
 */
static int
day_windows(Calendar *cal, int32 d, TimestampTz *a, TimestampTz *b)
{
	int64		ls = (int64) d * USECS_PER_DAY + cal->day_start;
	int64		le = (int64) d * USECS_PER_DAY + cal->day_end;
	TimestampTz to = le + MAX_TZ_OFFSET;
	int			n = 0;
	int			i = seg_find(cal, ls - MAX_TZ_OFFSET);

	for (;;)
	{
		TzSeg	   *s = &cal->seg[i];
		TimestampTz lo = Max(s->lo, ls - s->off);
		TimestampTz hi = Min(s->hi, le - s->off);

		if (lo < hi)
		{
			if (n > 0 && b[n - 1] == lo)
				b[n - 1] = hi;
			else if (n < MAX_WINDOWS)
			{
				a[n] = lo;
				b[n] = hi;
				n++;
			}
		}
		if (s->hi >= to)
			break;
		if (i + 1 >= cal->nseg)
		{
			if (cal->nseg == MAX_SEGMENTS)
			{
				/* keep the one we stand on; rare enough to restart */
				cal->seg[0] = *s;
				cal->nseg = 1;
				i = 0;
			}
			seg_append(cal, s->hi);
		}
		i++;
	}
	return n;
}

/* Last day number whose windows can still hold a valid timestamptz. */
#define LAST_DAY	((int32) (END_TIMESTAMP / USECS_PER_DAY + 2))

static void
check_amount(Calendar *cal, Interval *amount, int64 *need)
{
	int64		days;

	if (amount->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("business time cannot be counted in months: \"%s\"",
						DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(amount)))),
				 errhint("Give the amount in days (working days of the calendar), hours, minutes and seconds.")));
	if (amount->day < 0 || amount->time < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("business time cannot be negative: \"%s\"",
						DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(amount)))),
				 errhint("Neither the days nor the time of the amount may be negative.")));
	if (pg_mul_s64_overflow((int64) amount->day, cal->day_end - cal->day_start, &days) ||
		pg_add_s64_overflow(days, amount->time, need))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("business time amount out of range")));
}

static TimestampTz
business_add(Calendar *cal, TimestampTz start, int64 need)
{
	int32		d;
	TimestampTz a[MAX_WINDOWS],
				b[MAX_WINDOWS];

	if (TIMESTAMP_NOT_FINITE(start))
		return start;
	for (d = local_day(cal, start);; d++)
	{
		int			n;

		if (d > LAST_DAY)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range"),
					 errdetail("Calendar \"%s\" has no business time left before the end of timestamps.", cal->name)));
		if ((d & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!day_working(cal, d))
			continue;
		n = day_windows(cal, d, a, b);
		for (int k = 0; k < n; k++)
		{
			TimestampTz lo = Max(a[k], start);

			if (lo >= b[k])
				continue;
			if (need <= b[k] - lo)
			{
				if (!IS_VALID_TIMESTAMP(lo + need))
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("timestamp out of range")));
				return lo + need;
			}
			need -= b[k] - lo;
		}
	}
}

/* Business time in [t1, t2), t1 <= t2. */
static int64
business_measure(Calendar *cal, TimestampTz t1, TimestampTz t2)
{
	int32		d1 = local_day(cal, t1);
	int32		d2 = local_day(cal, t2);
	int64		total = 0;
	TimestampTz a[MAX_WINDOWS],
				b[MAX_WINDOWS];

	for (int32 d = d1; d <= d2; d++)
	{
		int			n;

		if ((d & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!day_working(cal, d))
			continue;
		n = day_windows(cal, d, a, b);
		for (int k = 0; k < n; k++)
		{
			TimestampTz lo = Max(a[k], t1);
			TimestampTz hi = Min(b[k], t2);

			if (lo < hi)
				total += hi - lo;
		}
	}
	return total;
}

/* ------------------------------------------------------------------------
 * Per-call-site cache of calendars
 * ------------------------------------------------------------------------
 */
#define CACHED_CALENDARS 8

typedef struct CalendarCache
{
	Stamp		stamp;
	MemoryContext cxt;			/* reset when the stamp changes */
	int			ncal;
	Calendar   *cal[CACHED_CALENDARS];
} CalendarCache;

static void
calcache_check(CalendarCache *cc, MemoryContext parent)
{
	Stamp		now = stamp_now();

	if (cc->cxt == NULL)
		cc->cxt = AllocSetContextCreate(parent, "custier calendars", ALLOCSET_SMALL_SIZES);
	else if (!stamp_equal(now, cc->stamp))
	{
		MemoryContextReset(cc->cxt);
		cc->ncal = 0;
	}
	cc->stamp = now;
}

static Calendar *
calcache_get(CalendarCache *cc, const char *name)
{
	Calendar   *cal;

	for (int i = 0; i < cc->ncal; i++)
		if (strcmp(cc->cal[i]->name, name) == 0)
		{
			/* move to front: the next row most likely asks for it again */
			cal = cc->cal[i];
			if (i > 0)
			{
				memmove(&cc->cal[1], &cc->cal[0], sizeof(Calendar *) * i);
				cc->cal[0] = cal;
			}
			return cal;
		}
	if (cc->ncal == CACHED_CALENDARS)
	{
		/* many calendars in one statement: start over */
		MemoryContextReset(cc->cxt);
		cc->ncal = 0;
	}
	cal = calendar_load(name, cc->cxt);
	memmove(&cc->cal[1], &cc->cal[0], sizeof(Calendar *) * cc->ncal);
	cc->cal[0] = cal;
	cc->ncal++;
	return cal;
}

static Calendar *
calendar_for_call(FunctionCallInfo fcinfo, text *name)
{
	CalendarCache *cc = (CalendarCache *) fcinfo->flinfo->fn_extra;
	char		buf[256];
	char	   *cname;
	int			len = VARSIZE_ANY_EXHDR(name);

	if (cc == NULL)
	{
		cc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CalendarCache));
		fcinfo->flinfo->fn_extra = cc;
	}
	calcache_check(cc, fcinfo->flinfo->fn_mcxt);
	if (len < (int) sizeof(buf))
	{
		memcpy(buf, VARDATA_ANY(name), len);
		buf[len] = '\0';
		cname = buf;
	}
	else
		cname = text_to_cstring(name);
	return calcache_get(cc, cname);
}

/* custier.business_add(calendar text, start timestamptz, amount interval) → timestamptz */
Datum
custier_business_add(PG_FUNCTION_ARGS)
{
	Calendar   *cal = calendar_for_call(fcinfo, PG_GETARG_TEXT_PP(0));
	TimestampTz start = PG_GETARG_TIMESTAMPTZ(1);
	int64		need;

	check_amount(cal, PG_GETARG_INTERVAL_P(2), &need);
	PG_RETURN_TIMESTAMPTZ(business_add(cal, start, need));
}

/* custier.business_between(calendar text, t1 timestamptz, t2 timestamptz) → interval */
Datum
custier_business_between(PG_FUNCTION_ARGS)
{
	Calendar   *cal = calendar_for_call(fcinfo, PG_GETARG_TEXT_PP(0));
	TimestampTz t1 = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz t2 = PG_GETARG_TIMESTAMPTZ(2);
	Interval   *result = palloc0(sizeof(Interval));

	if (TIMESTAMP_NOT_FINITE(t1) || TIMESTAMP_NOT_FINITE(t2))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("business time between infinite timestamps is not defined")));
	if (t2 >= t1)
		result->time = business_measure(cal, t1, t2);
	else
		result->time = -business_measure(cal, t2, t1);
	PG_RETURN_INTERVAL_P(result);
}

/* custier._timezone_ok(text) → boolean: a zone name pg_tzset knows. */
Datum
custier_timezone_ok(PG_FUNCTION_ARGS)
{
	char	   *zone = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BOOL(zone[0] != '\0' && strlen(zone) <= TZ_STRLEN_MAX && pg_tzset(zone) != NULL);
}

/* ------------------------------------------------------------------------
 * service_deadline
 * ------------------------------------------------------------------------
 */
typedef struct GroupSla
{
	bool		present;
	bool		has[3];			/* urgent, general, resolution */
	Interval	sla[3];
	char	   *calendar;		/* NULL: wall clock */
} GroupSla;

typedef struct HistKey
{
	uint32		name;			/* offset in the key arena */
	uint32		first;			/* entries first .. first + count - 1, newest first */
	uint32		count;
} HistKey;

typedef struct KeyChange
{
	uint32		new_key;		/* offsets in the key arena */
	uint32		old_key;
	TimestampTz at;
} KeyChange;

typedef struct DeadlineCache
{
	CalendarCache cals;			/* its stamp governs the rest too */
	MemoryContext cxt;			/* groups and history; reset with the stamp */
	Oid			relid;
	bool		loaded;			/* groups (and relid) read this statement */
	GroupSla	group[TIER_MAX_RANK + 1];
	int64		calls;
	bool		bulk;
	/* the history of relid, read in bulk */
	char	   *arena;
	uint64		arena_len;
	uint64		arena_size;
	HistKey    *keys;
	uint64		nkeys;
	TimestampTz *at;
	Tier	   *tier;
	uint64		nentries;
	KeyChange  *changes;		/* by new_key, newest first */
	uint64		nchanges;
} DeadlineCache;

static uint32
arena_add(DeadlineCache *dc, const char *s, int len)
{
	uint64		off = dc->arena_len;

	if (dc->arena_len + len + 1 > dc->arena_size)
	{
		uint64		size = Max(dc->arena_size * 2, dc->arena_len + len + 1 + 65536);

		if (size > UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("custier.service_deadline: the keys of this table's history exceed 4 GB")));
		dc->arena = dc->arena ? repalloc_huge(dc->arena, size)
			: MemoryContextAllocHuge(dc->cxt, size);
		dc->arena_size = size;
	}
	memcpy(dc->arena + off, s, len);
	dc->arena[off + len] = '\0';
	dc->arena_len += len + 1;
	return (uint32) off;
}

static void
deadline_load_groups(DeadlineCache *dc, Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};

	memset(dc->group, 0, sizeof(dc->group));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT g.tier, g.calendar, g.urgent_response, g.general_response, g.resolution "
							  "FROM custier.managed_table m JOIN custier.service_group g "
							  "ON g.policy OPERATOR(pg_catalog.=) m.policy "
							  "WHERE m.tbl OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading custier.service_group failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Tier		t = DatumGetTier(SPI_getbinval(tup, desc, 1, &isnull));
		GroupSla   *g;
		char	   *cal;

		if (isnull || t < TIER_MIN_RANK || t > TIER_MAX_RANK)
			continue;
		g = &dc->group[t];
		g->present = true;
		cal = SPI_getvalue(tup, desc, 2);
		g->calendar = cal ? MemoryContextStrdup(dc->cxt, cal) : NULL;
		for (int k = 0; k < 3; k++)
		{
			Datum		v = SPI_getbinval(tup, desc, 3 + k, &isnull);

			g->has[k] = !isnull;
			if (!isnull)
				g->sla[k] = *DatumGetIntervalP(v);
		}
	}
	SPI_finish();
	dc->relid = relid;
	dc->loaded = true;
}

/* The grade at `at` through custier.tier_at itself (as the caller). */
static Tier
deadline_tier_one(Oid relid, text *key, TimestampTz at)
{
	Oid			argtypes[3] = {REGCLASSOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3] = {ObjectIdGetDatum(relid), PointerGetDatum(key), TimestampTzGetDatum(at)};
	Tier		result = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT custier.tier_at($1, $2, $3)",
							  3, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "custier.tier_at failed");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = DatumGetTier(d);
	}
	SPI_finish();
	return result;
}

/*
 * Reads the history of relid (and its key changes) as the caller, so row-
 * level security on custier.tier_history applies as it does to tier_at.
 * Streams through a cursor; keeps per row 9 bytes plus the keys.
 */
static void
deadline_load_history(DeadlineCache *dc)
{
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		args[1] = {ObjectIdGetDatum(dc->relid)};
	Portal		portal;
	uint64		maxentries = 65536,
				maxkeys = 16384,
				maxchanges = 64;
	MemoryContext cxt = dc->cxt;
	const char *last = NULL;
	int			lastlen = -1;

	dc->at = MemoryContextAllocHuge(cxt, sizeof(TimestampTz) * maxentries);
	dc->tier = MemoryContextAllocHuge(cxt, sizeof(Tier) * maxentries);
	dc->keys = MemoryContextAllocHuge(cxt, sizeof(HistKey) * maxkeys);
	dc->changes = MemoryContextAllocHuge(cxt, sizeof(KeyChange) * maxchanges);
	dc->nentries = dc->nkeys = dc->nchanges = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT h.customer_key, h.changed_at, h.new_tier "
									   "FROM custier.tier_history h WHERE h.tbl OPERATOR(pg_catalog.=) $1 "
									   "ORDER BY h.customer_key, h.changed_at DESC, h.history_id DESC",
									   1, argtypes, args, NULL, true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			text	   *k = DatumGetTextPP(SPI_getbinval(tup, desc, 1, &isnull));
			TimestampTz at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
			Datum		t = SPI_getbinval(tup, desc, 3, &isnull);
			int			len = VARSIZE_ANY_EXHDR(k);

			if (dc->nentries == maxentries)
			{
				maxentries *= 2;
				dc->at = repalloc_huge(dc->at, sizeof(TimestampTz) * maxentries);
				dc->tier = repalloc_huge(dc->tier, sizeof(Tier) * maxentries);
			}
			if (last == NULL || len != lastlen || memcmp(last, VARDATA_ANY(k), len) != 0)
			{
				HistKey    *hk;

				if (dc->nkeys == maxkeys)
				{
					maxkeys *= 2;
					dc->keys = repalloc_huge(dc->keys, sizeof(HistKey) * maxkeys);
				}
				hk = &dc->keys[dc->nkeys++];
				hk->name = arena_add(dc, VARDATA_ANY(k), len);
				hk->first = (uint32) dc->nentries;
				hk->count = 0;
				last = dc->arena + hk->name;
				lastlen = len;
			}
			dc->at[dc->nentries] = at;
			dc->tier[dc->nentries] = isnull ? 0 : DatumGetTier(t);
			dc->nentries++;
			dc->keys[dc->nkeys - 1].count++;
			if (dc->nentries >= UINT32_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("custier.service_deadline: too many history rows for one table")));
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);

	if (SPI_execute_with_args("SELECT c.new_key, c.changed_at, c.old_key FROM custier.customer_key_change c "
							  "WHERE c.tbl OPERATOR(pg_catalog.=) $1 ORDER BY c.new_key, c.changed_at DESC",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading custier.customer_key_change failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		text	   *nk = DatumGetTextPP(SPI_getbinval(tup, desc, 1, &isnull));
		TimestampTz at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
		text	   *ok = DatumGetTextPP(SPI_getbinval(tup, desc, 3, &isnull));
		KeyChange  *kc;

		if (dc->nchanges == maxchanges)
		{
			maxchanges *= 2;
			dc->changes = repalloc_huge(dc->changes, sizeof(KeyChange) * maxchanges);
		}
		kc = &dc->changes[dc->nchanges++];
		kc->new_key = arena_add(dc, VARDATA_ANY(nk), VARSIZE_ANY_EXHDR(nk));
		kc->old_key = arena_add(dc, VARDATA_ANY(ok), VARSIZE_ANY_EXHDR(ok));
		kc->at = at;
	}
	SPI_finish();
	dc->bulk = true;
}

/* byte-wise comparison, as COLLATE "C" orders the keys */
static inline int
key_cmp(const char *a, const char *b)
{
	return strcmp(a, b);
}

/* The grade at `at` from the bulk history: tier_at's rules, in memory. */
static Tier
deadline_tier_bulk(DeadlineCache *dc, const char *key, TimestampTz at)
{
	TimestampTz until = DT_NOEND;
	int64		lo,
				hi;
	HistKey    *hk = NULL;

	/* Follow key changes back to the key the customer had at `at`. */
	for (int guard = 0; dc->nchanges > 0 && guard < 100000; guard++)
	{
		int64		first = -1;
		bool		moved = false;

		lo = 0;
		hi = (int64) dc->nchanges - 1;
		while (lo <= hi)
		{
			int64		mid = (lo + hi) / 2;
			int			c = key_cmp(dc->arena + dc->changes[mid].new_key, key);

			if (c < 0)
				lo = mid + 1;
			else
			{
				if (c == 0)
					first = mid;
				hi = mid - 1;
			}
		}
		for (int64 i = first; first >= 0 && i < (int64) dc->nchanges &&
			 key_cmp(dc->arena + dc->changes[i].new_key, key) == 0; i++)
		{
			if (dc->changes[i].at < until)
			{
				if (dc->changes[i].at > at)
				{
					until = dc->changes[i].at;
					key = dc->arena + dc->changes[i].old_key;
					moved = true;
				}
				break;
			}
		}
		if (!moved)
			break;
	}

	lo = 0;
	hi = (int64) dc->nkeys - 1;
	while (lo <= hi)
	{
		int64		mid = (lo + hi) / 2;
		int			c = key_cmp(dc->arena + dc->keys[mid].name, key);

		if (c == 0)
		{
			hk = &dc->keys[mid];
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	if (hk == NULL)
		return 0;
	/* entries newest first: the first one at or before `at` */
	lo = hk->first;
	hi = (int64) hk->first + hk->count;
	while (lo < hi)
	{
		int64		mid = (lo + hi) / 2;

		if (dc->at[mid] <= at)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo >= (int64) hk->first + hk->count)
		return 0;
	return dc->tier[lo];
}

/* custier.service_deadline(tbl regclass, customer_key text, opened timestamptz, kind text) */
Datum
custier_service_deadline(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	text	   *key = PG_GETARG_TEXT_PP(1);
	TimestampTz opened = PG_GETARG_TIMESTAMPTZ(2);
	text	   *kindt = PG_GETARG_TEXT_PP(3);
	DeadlineCache *dc = (DeadlineCache *) fcinfo->flinfo->fn_extra;
	int			kind;
	Tier		t;
	GroupSla   *g;
	Calendar   *cal;
	int64		need;
	int			klen = VARSIZE_ANY_EXHDR(kindt);
	const char *kd = VARDATA_ANY(kindt);

	if (klen == 6 && memcmp(kd, "urgent", 6) == 0)
		kind = 0;
	else if (klen == 7 && memcmp(kd, "general", 7) == 0)
		kind = 1;
	else if (klen == 10 && memcmp(kd, "resolution", 10) == 0)
		kind = 2;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown kind of deadline: \"%s\"", text_to_cstring(kindt)),
				 errhint("The kind is 'urgent', 'general' or 'resolution'.")));

	if (dc == NULL)
	{
		dc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(DeadlineCache));
		fcinfo->flinfo->fn_extra = dc;
	}
	{
		Stamp		old = dc->cals.stamp;
		bool		fresh = dc->cals.cxt == NULL;

		calcache_check(&dc->cals, fcinfo->flinfo->fn_mcxt);
		if (fresh)
			dc->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "custier service_deadline",
											ALLOCSET_DEFAULT_SIZES);
		if (fresh || !stamp_equal(old, dc->cals.stamp) || !dc->loaded || dc->relid != relid)
		{
			/* a new statement, or another table: read everything again */
			MemoryContextReset(dc->cxt);
			dc->bulk = false;
			dc->calls = 0;
			dc->arena = NULL;
			dc->arena_len = dc->arena_size = 0;
			deadline_load_groups(dc, relid);
		}
	}

	if (!dc->bulk && dc->calls++ >= DEADLINE_PER_ROW_CALLS)
		deadline_load_history(dc);
	if (dc->bulk)
	{
		char		buf[128];
		char	   *k;
		int			len = VARSIZE_ANY_EXHDR(key);

		if (len < (int) sizeof(buf))
		{
			memcpy(buf, VARDATA_ANY(key), len);
			buf[len] = '\0';
			k = buf;
		}
		else
			k = text_to_cstring(key);
		/* history keys never hold NUL bytes: text cannot */
		t = deadline_tier_bulk(dc, k, opened);
	}
	else
		t = deadline_tier_one(relid, key, opened);

	if (t == 0)
		PG_RETURN_NULL();
	g = &dc->group[t];
	if (!g->present || !g->has[kind])
		PG_RETURN_NULL();
	if (g->calendar == NULL)
		PG_RETURN_DATUM(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(opened),
											IntervalPGetDatum(&g->sla[kind])));
	cal = calcache_get(&dc->cals, g->calendar);
	check_amount(cal, &g->sla[kind], &need);
	PG_RETURN_TIMESTAMPTZ(business_add(cal, opened, need));
}

/* custier._service_append_only(): BEFORE UPDATE/DELETE/TRUNCATE on group_meeting. */
Datum
custier_service_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier._service_append_only() must be called as a trigger")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("custier.%s is append-only: %s is not allowed",
					RelationGetRelationName(td->tg_relation),
					TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? "UPDATE" :
					TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "DELETE" :
					TRIGGER_FIRED_BY_TRUNCATE(td->tg_event) ? "TRUNCATE" : "this"),
			 errdetail("Meetings of service groups are a record: add a row to correct one.")));
	PG_RETURN_NULL();
}

/*
 * custier._tier_in(t tier, mask int) → boolean: is bit rank(t) set in mask?
 * The row test of custier.restrict's policy: one call with two by-value
 * arguments per row (an "= ANY (array)" test re-reads the array every row,
 * which made a restricted scan ~3x slower than the owner's).
 */
Datum
custier_tier_in_mask(PG_FUNCTION_ARGS)
{
	Tier		t = PG_GETARG_TIER(0);
	int32		mask = PG_GETARG_INT32(1);

	PG_RETURN_BOOL(t >= TIER_MIN_RANK && t <= TIER_MAX_RANK && ((uint32) mask >> t) & 1);
}
