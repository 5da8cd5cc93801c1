/* SPDX-License-Identifier: ISC */
/*
 * lab.js - the syncasync lab page: fire concurrent requests from the
 * browser, draw each lane live, judge the run as syncasync-probe does, and
 * export it in the probe's JSON and SVG formats.
 *
 * Plain JavaScript, no framework, no build step, nothing fetched from
 * elsewhere.  The verdict is probe/probe_result.c's rule
 * (probe_result_summarize), the export keys are probe/probe_report.c's and
 * the SVG is drawn as probe/probe_svg.c draws it; keep them in step.
 *
 * The browser's own queue is kept apart from the server's: every request
 * has its own URL (a "lab" query parameter the servers ignore), the requests
 * are spread over the host names 127.0.0.1 ... 127.0.0.10 (the lab's
 * lighttpd listens on each: deploy/lighttpd-lab.conf), and each request's
 * wait inside the browser is read from Resource Timing.  A request's
 * latency counts from when it left the browser (requestStart), so the
 * browser's connection limit is never blamed on the server.
 *
 * window.syncasyncLab gives the tests (tests/lab_browser.py) the last run.
 */
'use strict';

(function () {
	var LAB_VERSION = 'lab-1';
	var HOSTS = 10;
	var MAX_REQUESTS = 50;
	var SLEEP_SUFFIX = ' (sleep)';
	/* The response contract's fields (README "The response"), in the
	 * probe's order; "mode" (only /async has it) follows. */
	var CONTRACT = ['message', 'thread_id', 'pid', 'request_time', 'request_no',
	    'started_us', 'finished_us'];
	/* probe_svg.c's geometry and palette */
	var SVG_WIDTH = 1150, SVG_LEFT = 70, SVG_RIGHT = 300;
	var PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2',
	    '#edc948', '#9c755f', '#ff9da7', '#e15759', '#bab0ac'];
	var LABELS = {
		'/sync': '/sync (CGI: a process per request)',
		'/pool': '/pool (4 long-lived workers, one request each)',
		'/modes/block/async': '/async block (sleep() on the loop)',
		'/modes/timer/async': '/async timer (a loop timer, like asyncio.sleep)',
		'/modes/offload/async': '/async offload (a thread pool, like run_in_threadpool)',
		'/async': '/async (in the server\u2019s own mode)'
	};
	/* A request that waited longer than this (ms) in the browser before it was
	 * sent is "queued" (connection set-up alone takes a few ms to tens). */
	var QUEUED_MS = 200;

	var $ = function (id) { return document.getElementById(id); };
	var state = { running: false, run: null, exportUrls: [] };

	/* ---- clocks --------------------------------------------------------- */

	/* performance.now() values on the wall clock, in µs since the epoch
	 * (the servers' started_us are CLOCK_REALTIME on the same machine). */
	function clockOffsetMs() {
		return Date.now() - performance.now();
	}
	function epochUs(run, perfMs) {
		return Math.round((run.offsetMs + perfMs) * 1000);
	}

	/* ---- the form ------------------------------------------------------- */

	function parseSleepers(text, count) {
		var set = {}, parts, i, n;

		text = text.trim().toLowerCase();
		if (text === 'all') {
			for (i = 1; i <= count; i++)
				set[i] = true;
			return set;
		}
		if (text === '' || text === 'none')
			return set;
		parts = text.split(/[\s,]+/);
		for (i = 0; i < parts.length; i++) {
			if (!/^[0-9]+$/.test(parts[i]))
				throw new Error('Sleepers: "' + parts[i] +
				    '" is not a request number (use numbers such as 5 or 2,7, or all)');
			n = parseInt(parts[i], 10);
			if (n < 1 || n > count)
				throw new Error('Sleepers: request ' + n +
				    ' does not exist (requests are numbered 1 to ' + count + ')');
			set[n] = true;
		}
		return set;
	}

	function readNumber(id, min, max, what) {
		var value = Number($(id).value);

		if ($(id).value.trim() === '' || !isFinite(value) || value < min || value > max)
			throw new Error(what + ' must be a number from ' + min + ' to ' + max);
		return value;
	}

	function readForm() {
		var count = readNumber('requests', 1, MAX_REQUESTS, 'Requests');

		if (count !== Math.floor(count))
			throw new Error('Requests must be a whole number');
		return {
			path: $('path').value,
			count: count,
			sleepers: parseSleepers($('sleepers').value, count),
			sleep: readNumber('sleep', 0, 60, 'Sleep'),
			headStartMs: readNumber('headstart', 0, 5000, 'Head start'),
			spread: $('spread').checked
		};
	}

	/* ---- one run -------------------------------------------------------- */

	function hostFor(index, spread) {
		if (!spread)
			return location.host;
		return '127.0.0.' + (index % HOSTS + 1) + (location.port ? ':' + location.port : '');
	}

	function isAsyncPath(path) {
		return /\/async$/.test(path);
	}

	/* Checks a 2xx body against the response contract as
	 * probe_result_parse_body does; returns null or what is wrong. */
	function parseBody(row, text) {
		var obj, ints = ['thread_id', 'pid', 'request_no', 'started_us', 'finished_us'];
		var i;

		try {
			obj = JSON.parse(text);
		} catch (e) {
			return 'body is not JSON';
		}
		if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
			return 'body is not the contract JSON: not an object';
		if (typeof obj.message !== 'string')
			return 'body is not the contract JSON: missing message';
		for (i = 0; i < ints.length; i++)
			if (!Number.isInteger(obj[ints[i]]))
				return 'body is not the contract JSON: missing ' + ints[i];
		if (typeof obj.request_time !== 'string')
			return 'body is not the contract JSON: missing request_time';
		if (obj.mode !== undefined && typeof obj.mode !== 'string')
			return 'body is not the contract JSON: mode is not a string';
		if (obj.finished_us < obj.started_us)
			return 'body is not the contract JSON: finished_us before started_us';
		/* waited_us came later: absent is 0 */
		if (obj.waited_us !== undefined && (!Number.isInteger(obj.waited_us) ||
		    obj.waited_us < 0))
			return 'body is not the contract JSON: waited_us is not a count';
		row.parsed = true;
		CONTRACT.forEach(function (k) { row[k] = obj[k]; });
		row.waited_us = obj.waited_us !== undefined ? obj.waited_us : 0;
		row.mode = obj.mode !== undefined ? obj.mode : null;
		return null;
	}

	function errorFromBody(status, text) {
		var error = 'HTTP ' + status;

		try {
			var obj = JSON.parse(text);
			if (obj && typeof obj.error === 'string')
				error += ': ' + obj.error;
		} catch (e) { /* not JSON: the status says enough */ }
		return error;
	}

	function fetchStats(path) {
		if (!isAsyncPath(path))
			return Promise.resolve(null);
		return fetch(path + '/stats?lab=stats-' + Date.now(), { cache: 'no-store' })
		    .then(function (r) { return r.ok ? r.json() : null; })
		    .catch(function () { return null; });
	}

	function sendOne(run, row) {
		row.fetchPerf = performance.now();
		row.state = 'sent';
		return fetch(row.url, { cache: 'no-store', credentials: 'omit' })
		    .then(function (response) {
			row.http_status = response.status;
			return response.text().then(function (text) {
				row.endPerf = performance.now();
				if (response.ok)
					row.error = parseBody(row, text);
				else
					row.error = errorFromBody(response.status, text);
			});
		    }, function (e) {
			row.endPerf = performance.now();
			row.http_status = 0;
			row.error = 'no answer the page may read (' + e.message +
			    '): the server is down, or its answer lacks ' +
			    'Access-Control-Allow-Origin for this page';
		    })
		    .then(function () {
			/* provisional, for the live picture; settleTimes refines */
			row.fetch_us = epochUs(run, row.fetchPerf);
			row.sent_us = row.fetch_us;
			row.received_us = epochUs(run, row.endPerf);
			row.state = 'done';
		    });
	}

	/* Resource Timing entries appear once a response is complete; waits
	 * (briefly) for the ones not there yet. */
	function collectTimings(run) {
		var tries = 0;

		return new Promise(function (resolve) {
			function look() {
				var missing = 0;
				run.rows.forEach(function (row) {
					if (row.timing)
						return;
					var list = performance.getEntriesByName(row.url, 'resource');
					if (list.length > 0)
						row.timing = list[list.length - 1];
					else
						missing++;
				});
				if (missing === 0 || ++tries > 20)
					resolve();
				else
					setTimeout(look, 25);
			}
			look();
		});
	}

	/* Fills the probe's client times from Resource Timing: sent = the
	 * request left the browser (requestStart), received = responseEnd. */
	function settleTimes(run) {
		run.timingOk = true;
		run.rows.forEach(function (row) {
			var t = row.timing, wire = row.fetchPerf, end = row.endPerf;

			if (t && t.requestStart > 0) {
				wire = t.requestStart;
				end = t.responseEnd > 0 ? t.responseEnd : end;
				row.browser = {
					queued_ms: round3(Math.max(0, t.requestStart - t.startTime)),
					connect_ms: round3(Math.max(0, t.connectEnd - t.connectStart)),
					new_connection: t.connectEnd > t.connectStart || t.connectStart > t.fetchStart,
					protocol: t.nextHopProtocol || ''
				};
			} else {
				run.timingOk = row.state === 'done' && !row.error ? false : run.timingOk;
				row.browser = { queued_ms: null, connect_ms: null, new_connection: null, protocol: '' };
			}
			row.fetch_us = epochUs(run, row.fetchPerf);
			row.sent_us = epochUs(run, wire);
			row.received_us = end !== undefined ? epochUs(run, end) : 0;
		});
	}

	function startRun(cfg) {
		var run = {
			cfg: cfg,
			id: Date.now().toString(36),
			offsetMs: clockOffsetMs(),
			startPerf: performance.now(),
			rows: [],
			label: LABELS[cfg.path] || cfg.path,
			statsBefore: null,
			statsAfter: null,
			done: false
		};
		var i, row, q;

		for (i = 0; i < cfg.count; i++) {
			q = cfg.sleepers[i + 1] ? 'sleep=' + cfg.sleep : 'sleep=0';
			row = {
				index: i,
				host: hostFor(i, cfg.spread),
				asked_to_sleep: !!cfg.sleepers[i + 1],
				state: 'waiting',
				http_status: 0,
				error: null,
				parsed: false
			};
			row.url = location.protocol + '//' + row.host + cfg.path + '?' + q +
			    '&lab=' + run.id + '-' + (i + 1);
			run.rows.push(row);
		}
		return run;
	}

	function execute(run) {
		var sleepers = run.rows.filter(function (r) { return r.asked_to_sleep; });
		var others = run.rows.filter(function (r) { return !r.asked_to_sleep; });
		var delay = sleepers.length > 0 && others.length > 0 ? run.cfg.headStartMs : 0;
		var all = [];

		performance.clearResourceTimings();
		if (performance.setResourceTimingBufferSize)
			performance.setResourceTimingBufferSize(1000);
		sleepers.forEach(function (row) { all.push(sendOne(run, row)); });
		all.push(new Promise(function (resolve) {
			setTimeout(function () {
				Promise.all(others.map(function (row) {
					return sendOne(run, row);
				})).then(resolve);
			}, delay);
		}));
		return Promise.all(all);
	}

	/* ---- the verdict: probe_result_summarize ---------------------------- */

	function rowOk(row) {
		return !row.error && row.parsed;
	}
	function rowSleeper(row) {
		return row.parsed && row.message.length >= SLEEP_SUFFIX.length &&
		    row.message.slice(-SLEEP_SUFFIX.length) === SLEEP_SUFFIX;
	}
	function latencyMs(row) {
		if (!row.received_us || row.received_us < row.sent_us)
			return 0;
		return (row.received_us - row.sent_us) / 1000;
	}
	function latencyStats(values) {
		var sorted = values.slice().sort(function (a, b) { return a - b; });
		var n = sorted.length;

		if (n === 0)
			return { count: 0, min: 0, median: 0, max: 0 };
		return {
			count: n,
			min: sorted[0],
			median: n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
			max: sorted[n - 1]
		};
	}
	/* probe_result.c's row_queued: a late row waited behind a full pool
	 * when the server says so, or (sync_cgi) every pid was busy with a
	 * sleeper from its send to threshold later. */
	function rowQueued(rows, row, thresholdUs) {
		var until = row.sent_us + thresholdUs, ok = rows.filter(rowOk), pids;

		if (row.waited_us > thresholdUs)
			return true;
		if (row.message.indexOf('sync example') !== 0)
			return false;
		pids = {};
		ok.forEach(function (r) { pids[r.pid] = true; });
		return Object.keys(pids).every(function (pid) {
			return ok.some(function (k) {
				return k !== row && rowSleeper(k) && String(k.pid) === pid &&
				    k.started_us <= until && k.finished_us >= until;
			});
		});
	}
	function distinct(values) {
		var seen = {};
		values.forEach(function (v) { seen[v] = true; });
		return Object.keys(seen).length;
	}

	/* latencyOf: which latency the rule uses (the browser's view from the
	 * fetch() call is judged too, to show what a naive page would say). */
	function summarize(rows, latencyOf) {
		var ok = rows.filter(rowOk);
		var sleepers = ok.filter(rowSleeper);
		var others = ok.filter(function (r) { return !rowSleeper(r); });
		var span = 0, threshold, s;

		sleepers.forEach(function (r) {
			span = Math.max(span, r.finished_us - r.started_us - r.waited_us);
		});
		s = {
			requests: rows.length,
			ok: ok.length,
			failed: rows.length - ok.length,
			distinct_thread_ids: distinct(ok.map(function (r) { return r.thread_id; })),
			distinct_pids: distinct(ok.map(function (r) { return r.pid; })),
			sleeper_request_no: sleepers.length ? sleepers[0].request_no : null,
			sleep_seconds: round3(span / 1e6),
			sleep_source: 'server',
			sleeper_latency_ms: latencyStats(sleepers.map(latencyOf)),
			others_latency_ms: latencyStats(others.map(latencyOf)),
			others: others.length,
			held_up: 0,
			queued: 0,
			verdict: 'failed'
		};
		threshold = s.sleep_seconds * 1000 / 2;
		s.held_up_rows = [];
		others.forEach(function (r) {
			if (sleepers.length > 0 && s.sleep_seconds > 0 && latencyOf(r) > threshold) {
				s.held_up++;
				s.held_up_rows.push(r);
			}
		});
		var queuedOthers = 0, queuedSleepers = 0;
		ok.forEach(function (r) {
			var late;

			if (sleepers.length === 0 || s.sleep_seconds <= 0)
				return;
			late = latencyOf(r) - (rowSleeper(r) ? s.sleep_seconds * 1000 : 0);
			if (late > threshold && rowQueued(rows, r, Math.floor(threshold * 1000))) {
				s.queued++;
				if (rowSleeper(r))
					queuedSleepers++;
				else
					queuedOthers++;
			}
		});
		if (s.failed > 0)
			s.verdict = 'failed';
		else if (sleepers.length === 0)
			s.verdict = 'no sleeper';
		else if (s.held_up > 0)
			s.verdict = queuedOthers === s.held_up ? 'queued' : 'blocked';
		else if (queuedSleepers > 0)
			s.verdict = 'queued';
		else
			s.verdict = 'not blocked';
		['sleeper_latency_ms', 'others_latency_ms'].forEach(function (k) {
			['min', 'median', 'max'].forEach(function (m) { s[k][m] = round3(s[k][m]); });
		});
		return s;
	}

	function round3(x) {
		return Math.round(x * 1000) / 1000;
	}

	/* ---- export: probe_report_json -------------------------------------- */

	function exportJson(run) {
		var sum = Object.assign({}, run.summary);

		delete sum.held_up_rows;
		return {
			tool: 'syncasync-lab',
			version: LAB_VERSION,
			groups: [{
				url: location.protocol + '//' + (run.cfg.spread ? '127.0.0.{1..' + HOSTS + '}' +
				    (location.port ? ':' + location.port : '') : location.host) + run.cfg.path,
				label: run.label,
				summary: sum,
				server_report: null,	/* the page does not ask /async/stats */
				results: run.rows.map(function (row) {
					var out = {
						index: row.index,
						sent_us: row.sent_us,
						received_us: row.received_us,
						latency_ms: round3(latencyMs(row)),
						http_status: row.http_status,
						error: row.error || null,
						sleeper: rowSleeper(row)
					};
					if (row.parsed)
						CONTRACT.concat(['waited_us', 'mode']).forEach(function (k) {
							out[k] = row[k];
						});
					/* The lab's additions (the probe has no browser). */
					out.lab = {
						url: row.url,
						host: row.host,
						asked_to_sleep: row.asked_to_sleep,
						fetch_us: row.fetch_us,
						browser_queued_ms: row.browser.queued_ms,
						connect_ms: row.browser.connect_ms
					};
					return out;
				})
			}],
			lab: {
				spread_hosts: run.cfg.spread ? HOSTS : 1,
				head_start_ms: run.cfg.headStartMs,
				sleep_asked_seconds: run.cfg.sleep,
				resource_timing: run.timingOk,
				verdict_from_fetch_call: run.naive.verdict,
				server_stats_before: run.statsBefore,
				server_stats_after: run.statsAfter
			}
		};
	}

	/* ---- the picture: probe_svg.c --------------------------------------- */

	function xml(text) {
		return String(text).replace(/[&<>"']/g, function (c) {
			return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c];
		}).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '?');
	}
	function f1(x) {
		return (Math.round(x * 10) / 10).toFixed(1);
	}
	function tickStep(spanS) {
		var step = Math.pow(10, Math.floor(Math.log10(spanS > 0 ? spanS : 1)));

		if (spanS / step < 2)
			step /= 5;
		else if (spanS / step < 4)
			step /= 2;
		return step;
	}
	function laneHeight(count) {
		if (count <= 50)
			return 18;
		return count >= 300 ? 3 : Math.floor(900 / count);
	}

	/* Rows in the probe's order: answered rows by server request number,
	 * then the rest in send order (probe_result_order). */
	function probeOrder(rows) {
		return rows.slice().sort(function (a, b) {
			if (a.parsed !== b.parsed)
				return a.parsed ? -1 : 1;
			if (a.parsed && a.request_no !== b.request_no)
				return a.request_no - b.request_no;
			return a.index - b.index;
		});
	}

	/*
	 * The run as an SVG document.  opts.live: draw lanes still in flight up
	 * to opts.nowUs; opts.order: 'send' (the page) or 'server' (the export,
	 * as the probe orders).  Extra over the probe: the hatched browser wait.
	 */
	function svg(run, opts) {
		var plotW = SVG_WIDTH - SVG_LEFT - SVG_RIGHT;
		var rows = opts.order === 'server' ? probeOrder(run.rows) : run.rows.slice();
		var laneH = laneHeight(rows.length);
		var height = 70 + 32 + rows.length * laneH + 58;
		var threads = [], out = [], t0 = Infinity, t1 = -Infinity, y, pxPerUs;
		var sum = run.summary;

		function color(id) {
			var i = threads.indexOf(id);
			if (i < 0) {
				threads.push(id);
				i = threads.length - 1;
			}
			return PALETTE[i % PALETTE.length];
		}
		rows.forEach(function (r) {
			if (r.fetch_us !== undefined) {
				t0 = Math.min(t0, r.fetch_us, r.sent_us);
				t1 = Math.max(t1, r.received_us || 0, r.parsed ? r.finished_us : 0);
			} else if (r.fetchPerf !== undefined)
				t0 = Math.min(t0, epochUs(run, r.fetchPerf));
		});
		if (opts.live) {
			if (!isFinite(t0))
				t0 = opts.nowUs;
			/* Room for the sleep from the start, so the axis does not jump. */
			t1 = Math.max(t1, opts.nowUs, t0 + (run.cfg.sleep + 1) * 1e6);
		}
		if (!(t1 > t0))
			t1 = t0 + 1000;
		pxPerUs = plotW / (t1 - t0);

		out.push('<?xml version="1.0" encoding="UTF-8"?>\n');
		out.push('<svg xmlns="http://www.w3.org/2000/svg" width="' + SVG_WIDTH +
		    '" height="' + height + '" viewBox="0 0 ' + SVG_WIDTH + ' ' + height +
		    '" font-family="sans-serif" role="img" aria-label="' +
		    xml('Timeline of ' + rows.length + ' requests to ' + run.label) + '">\n');
		out.push('<defs><pattern id="bq" width="6" height="6" patternUnits="userSpaceOnUse" ' +
		    'patternTransform="rotate(45)"><rect width="3" height="6" fill="#e67e22"/></pattern></defs>\n');
		out.push('<style>.h{font-size:15px;font-weight:bold}.s{font-weight:normal;fill:#333}' +
		    '.n{font-size:11px;text-anchor:end;fill:#333}.t{font-size:11px;fill:#333}' +
		    '.a{font-size:10px;text-anchor:middle;fill:#333}</style>\n');
		out.push('<rect width="100%" height="100%" fill="#fff"/>\n');
		y = 70;
		/* heading */
		var vcolor = '#555555', vtext;
		vtext = sum ? sum.verdict : 'running';
		if (vtext === 'blocked')
			vcolor = '#c0392b';
		else if (vtext === 'not blocked')
			vcolor = '#1e8449';
		else if (vtext === 'queued')
			vcolor = '#b9770e';
		out.push('<text x="10" y="' + (y + 20) + '" class="h" xml:space="preserve">' +
		    xml(run.label) + ' \u2014 ' + xml(run.cfg.path) + ': <tspan fill="' + vcolor + '">' +
		    xml(vtext) + '</tspan>');
		if (sum && (sum.verdict === 'blocked' || sum.verdict === 'not blocked' ||
		    sum.verdict === 'queued'))
			out.push('<tspan class="s"> (' + sum.held_up + ' of ' + sum.others +
			    ' others held up, sleep ' + sum.sleep_seconds.toFixed(2) + ' s; ' +
			    sum.distinct_thread_ids + ' thread' + (sum.distinct_thread_ids === 1 ? '' : 's') +
			    ')</tspan>');
		else if (sum && sum.verdict === 'failed')
			out.push('<tspan class="s"> (' + sum.failed + ' of ' + sum.requests +
			    ' requests failed)</tspan>');
		out.push('</text>\n');
		y += 32;
		out.push('<g class="group" data-url-index="0" data-t0-us="' + t0 +
		    '" data-px-per-us="' + pxPerUs + '" data-left="' + SVG_LEFT + '">\n');
		rows.forEach(function (row) {
			out.push(lane(row, y));
			y += laneH;
		});
		out.push('</g>\n');
		out.push(axis(y + 4, t1 - t0));
		out.push(legend(16));
		out.push('</svg>\n');
		return out.join('');

		function x(t) {
			return SVG_LEFT + (t - t0) * pxPerUs;
		}

		function lane(row, top) {
			var ok = rowOk(row), sleeper = rowSleeper(row), mid = top + laneH / 2;
			var s = '<g class="lane" data-index="' + row.index + '" data-state="' + row.state + '">';
			var sent, recv, x1, x2, label;

			if (row.fetch_us === undefined && !opts.live)
				return s + '</g>\n';
			if (opts.live && row.state !== 'done' && row.fetchPerf === undefined)
				return s + '<text x="' + (SVG_LEFT - 8) + '" y="' + f1(mid + 4) +
				    '" class="n">' + (row.index + 1) + '</text><text x="' + SVG_LEFT +
				    '" y="' + f1(mid + 4) + '" class="t">not sent yet</text></g>\n';
			label = opts.order === 'server' && ok ? '#' + row.request_no :
			    (row.index + 1) + (ok ? ' (#' + row.request_no + ')' : '');
			if (opts.order === 'server' && !ok)
				label = '\u2014';
			s += '<text x="' + (SVG_LEFT - 8) + '" y="' + f1(mid + 4) + '" class="n">' +
			    xml(label) + '</text>';
			if (row.state !== 'done') {
				/* in flight: from the fetch() call to now */
				sent = epochUs(run, row.fetchPerf);
				x1 = x(sent);
				x2 = Math.max(x1 + 1, x(opts.nowUs));
				s += '<rect class="wait" x="' + f1(x1) + '" y="' + f1(mid - laneH * 0.15) +
				    '" width="' + f1(x2 - x1) + '" height="' + f1(laneH * 0.3) + '" fill="#c8c8c8"/>';
				s += '<text x="' + f1(x2 + 6) + '" y="' + f1(mid + 4) + '" class="t">' +
				    ((opts.nowUs - sent) / 1000).toFixed(0) + ' ms, waiting' +
				    (row.asked_to_sleep ? ' \u00b7 asked to sleep' : '') + '</text></g>\n';
				return s;
			}
			x1 = x(row.sent_us);
			x2 = Math.max(x1 + 1, x(row.received_us));
			if (row.browser && row.browser.queued_ms >= 1) {
				var q1 = x(row.fetch_us);
				s += '<rect class="bq" x="' + f1(q1) + '" y="' + f1(mid - laneH * 0.25) +
				    '" width="' + f1(Math.max(1, x1 - q1)) + '" height="' + f1(laneH * 0.5) +
				    '" fill="url(#bq)"/>';
			}
			s += '<rect class="wait" x="' + f1(x1) + '" y="' + f1(mid - laneH * 0.15) + '" width="' +
			    f1(x2 - x1) + '" height="' + f1(laneH * 0.3) + '" fill="' +
			    (ok ? '#c8c8c8' : '#e74c3c') + '"/>';
			if (ok) {
				var s1 = x(Math.min(row.started_us + row.waited_us, row.finished_us));
				var s2 = Math.max(s1 + 2, x(row.finished_us));
				s += '<rect class="srv" x="' + f1(s1) + '" y="' + f1(top + laneH * 0.1) +
				    '" width="' + f1(s2 - s1) + '" height="' + f1(laneH * 0.8) + '" fill="' +
				    color(row.thread_id) + '"' + (sleeper ? ' stroke="#000" stroke-width="1.5"' : '') +
				    ' data-started-us="' + row.started_us + '" data-finished-us="' +
				    row.finished_us + '"/>';
			}
			s += '<text x="' + f1(x2 + 6) + '" y="' + f1(mid + 4) + '" class="t">' +
			    latencyMs(row).toFixed(0) + ' ms';
			if (sleeper)
				s += ' <tspan font-weight="bold">sleeper</tspan>';
			if (ok)
				s += ' \u00b7 thread ' + row.thread_id;
			else
				s += ' \u00b7 ' + xml(row.error.length > 40 ? row.error.slice(0, 40) + '\u2026' : row.error);
			if (row.browser && row.browser.queued_ms >= QUEUED_MS)
				s += ' \u00b7 ' + row.browser.queued_ms.toFixed(0) + ' ms queued';
			return s + '</text></g>\n';
		}

		function axis(ay, spanUs) {
			var spanS = spanUs / 1e6, step = tickStep(spanS), k, t, tx, s;
			var decimals = step >= 1 ? 0 : Math.ceil(-Math.log10(step) - 1e-9);

			s = '<line x1="' + SVG_LEFT + '" y1="' + ay + '" x2="' + (SVG_LEFT + plotW) +
			    '" y2="' + ay + '" stroke="#333"/>\n';
			for (k = 0; (t = k * step) <= spanS + step * 1e-6; k++) {
				tx = SVG_LEFT + t * 1e6 * pxPerUs;
				s += '<line x1="' + f1(tx) + '" y1="' + ay + '" x2="' + f1(tx) + '" y2="' +
				    (ay + 5) + '" stroke="#333"/><text x="' + f1(tx) + '" y="' + (ay + 17) +
				    '" class="a">' + t.toFixed(decimals) + '</text>\n';
			}
			return s + '<text x="' + (SVG_LEFT + plotW) + '" y="' + (ay + 30) +
			    '" class="a" text-anchor="end">seconds since the first send</text>\n';
		}

		function legend(ly) {
			var s = '<g class="legend">', lx = 10, i;

			s += '<rect x="' + lx + '" y="' + (ly + 3) + '" width="30" height="4" fill="#c8c8c8"/>' +
			    '<text x="' + (lx + 36) + '" y="' + (ly + 8) + '" class="t">waiting (sent to answer)</text>';
			lx += 190;
			s += '<rect x="' + lx + '" y="' + (ly - 1) + '" width="30" height="12" fill="#4e79a7"/>' +
			    '<text x="' + (lx + 36) + '" y="' + (ly + 8) +
			    '" class="t">handled by the server (colour = thread)</text>';
			lx += 290;
			s += '<rect x="' + lx + '" y="' + (ly - 1) + '" width="30" height="12" fill="#fff" ' +
			    'stroke="#000" stroke-width="1.5"/><text x="' + (lx + 36) + '" y="' + (ly + 8) +
			    '" class="t">sleeper</text>';
			lx += 100;
			s += '<rect x="' + lx + '" y="' + (ly + 1) + '" width="30" height="8" fill="url(#bq)"/>' +
			    '<text x="' + (lx + 36) + '" y="' + (ly + 8) +
			    '" class="t">waiting in the browser</text>';
			lx += 190;
			s += '<rect x="' + lx + '" y="' + (ly + 3) + '" width="30" height="4" fill="#e74c3c"/>' +
			    '<text x="' + (lx + 36) + '" y="' + (ly + 8) + '" class="t">failed</text>';
			ly += 20;
			lx = 10;
			if (threads.length > 0)
				s += '<text x="' + lx + '" y="' + (ly + 9) + '" class="t">thread ids:</text>';
			lx += 70;
			for (i = 0; i < threads.length && i < 12; i++, lx += 80)
				s += '<rect x="' + lx + '" y="' + (ly - 1) + '" width="12" height="12" fill="' +
				    PALETTE[i % PALETTE.length] + '"/><text x="' + (lx + 16) + '" y="' + (ly + 9) +
				    '" class="t">' + threads[i] + '</text>';
			if (threads.length > 12)
				s += '<text x="' + lx + '" y="' + (ly + 9) +
				    '" class="t">and more threads (colours repeat)</text>';
			return s + '</g>\n';
		}
	}

	/* ---- words ---------------------------------------------------------- */

	function list(numbers) {
		/* 7, 8, 9, 10 -> "7–10"; 2, 5 -> "2 and 5" */
		var parts = [], i = 0, j;

		numbers = numbers.slice().sort(function (a, b) { return a - b; });
		while (i < numbers.length) {
			j = i;
			while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1)
				j++;
			parts.push(j - i >= 2 ? numbers[i] + '\u2013' + numbers[j] :
			    j > i ? numbers[i] + ', ' + numbers[j] : String(numbers[i]));
			i = j + 1;
		}
		if (parts.length <= 1)
			return parts.join('');
		return parts.slice(0, -1).join(', ') + ' and ' + parts[parts.length - 1];
	}

	function para(html) {
		var p = document.createElement('p');
		p.innerHTML = html;
		return p;
	}

	function esc(text) {
		var d = document.createElement('div');
		d.textContent = String(text);
		return d.innerHTML;
	}

	function pathStory(run) {
		var s = run.summary, path = run.cfg.path;
		var answered = run.rows.filter(rowOk)[0];

		/* plain /async: the mode its answers report */
		if (path === '/async' && answered && answered.mode)
			path = '/modes/' + (answered.mode === 'async' ? 'timer' : answered.mode) + '/async';

		if (path === '/sync')
			return 'On <code>/sync</code> every request is its own process (' +
			    s.distinct_pids + ' pids for ' + s.ok + ' answers): a sleeper ' +
			    'holds only itself, the web server starts a fresh process for each ' +
			    'of the others.  That is what a thread per request (a FastAPI ' +
			    '<code>def</code> route) does too, up to the pool\u2019s size.';
		if (path === '/pool' && run.rows.filter(rowSleeper).length > s.distinct_pids)
			return 'On <code>/pool</code> ' + s.distinct_pids + ' long-lived worker ' +
			    'processes take one request each.  More requests slept than there are ' +
			    'workers, so the workers took them a few at a time and the rest queued ' +
			    'on the server, in waves: that is the pool\u2019s bound (FastAPI\u2019s ' +
			    '<code>def</code> routes queue the same way past 40 threads).';
		if (path === '/pool')
			return 'On <code>/pool</code> four long-lived worker processes take one ' +
			    'request each (' + s.distinct_pids + ' pids seen).  A sleeper holds ' +
			    'one worker; the others take the rest.  Make more requests sleep ' +
			    'than there are workers (try <code>all</code>) and the next requests ' +
			    'queue on the server: that is the pool\u2019s bound.';
		if (/\/block\/async$/.test(path))
			return 'On <code>/async</code> in <strong>block</strong> mode one thread ' +
			    'runs one event loop for every request (' + s.distinct_thread_ids +
			    ' thread id' + (s.distinct_thread_ids === 1 ? '' : 's') + '), and the ' +
			    'sleeper called <code>sleep()</code> on it: the loop stopped, and every ' +
			    'request that reached the server meanwhile waited for it \u2014 a ' +
			    'blocking call in an <code>async def</code> route.  The fixes keep ' +
			    'one loop and never block it: timer or offload.';
		if (/\/timer\/async$/.test(path))
			return 'On <code>/async</code> in <strong>timer</strong> mode a ' +
			    'sleeper waits on a loop timer, as <code>await asyncio.sleep()</code> ' +
			    'does: one thread (' + s.distinct_thread_ids + ' thread id' +
			    (s.distinct_thread_ids === 1 ? '' : 's') + ') serves everybody, and ' +
			    'the loop never stops.';
		if (/\/offload\/async$/.test(path))
			return 'On <code>/async</code> in <strong>offload</strong> mode a ' +
			    'sleeper\u2019s blocking call runs on a worker thread of a bounded ' +
			    'pool, as <code>run_in_threadpool</code> does (' +
			    s.distinct_thread_ids + ' thread ids: the loop\u2019s and the ' +
			    'workers\u2019); the loop goes on serving until the pool is exhausted.';
		return '';
	}

	function explain(run) {
		var box = $('explain'), s = run.summary, n = run.naive;
		var sleepersAsked = run.rows.filter(function (r) { return r.asked_to_sleep; });
		var sleptRows = run.rows.filter(rowSleeper);
		var line = $('verdict-line'), text;

		box.textContent = '';
		line.className = 'verdict-line v-' + s.verdict.replace(' ', '-');
		text = '<span class="verdict-word">' + esc(s.verdict) + '</span> ';
		if (s.verdict === 'blocked')
			text += s.held_up + ' of ' + s.others + ' other requests were held up by the sleeper' +
			    (sleptRows.length > 1 ? 's' : '') + ' (each took more than ' +
			    (s.sleep_seconds / 2).toFixed(2) + ' s, half the sleep, on the server\u2019s side).';
		else if (s.verdict === 'not blocked' && s.others === 0)
			text += 'every request slept, so none was left to hold up; what this run ' +
			    'shows is how the sleepers themselves were served.';
		else if (s.verdict === 'not blocked')
			text += 'none of the ' + s.others + ' other requests waited for the sleeper' +
			    (sleptRows.length > 1 ? 's' : '') + '.';
		else if (s.verdict === 'no sleeper')
			text += 'no request slept, so there was nothing to wait for.';
		else if (s.verdict === 'queued')
			text += s.queued + ' request' + (s.queued === 1 ? '' : 's') + ' waited behind a ' +
			    'full pool, not a blocked loop: every worker was busy with a sleeper.';
		else
			text += s.failed + ' of ' + s.requests + ' requests failed; the picture is incomplete.';
		line.innerHTML = text;

		if (s.verdict === 'failed') {
			var first = run.rows.filter(function (r) { return !rowOk(r); })[0];
			box.appendChild(para('The first failure: <code>' + esc(first.error) + '</code>.' +
			    (first.http_status === 404 ? ' This server does not serve <code>' +
			    esc(run.cfg.path) + '</code>: the demo\u2019s lighttpd ' +
			    '(<code>deploy/syncasync-demo --lab</code>) serves every path listed.' : '')));
		}
		if (pathStory(run))
			box.appendChild(para(pathStory(run)));
		if (s.verdict === 'blocked') {
			var held = s.held_up_rows.map(function (r) { return r.index + 1; });
			box.appendChild(para('Held up: request' + (held.length > 1 ? 's ' : ' ') + list(held) +
			    ' (the lanes whose solid bar starts only when a sleeper\u2019s ends: ' +
			    'they reached the server on time and waited there).'));
		}
		if (sleepersAsked.length !== sleptRows.length && s.failed === 0)
			box.appendChild(para('You asked ' + (sleepersAsked.length ?
			    'request' + (sleepersAsked.length > 1 ? 's ' : ' ') +
			    list(sleepersAsked.map(function (r) { return r.index + 1; })) : 'no request') +
			    ' to sleep, but ' + (sleptRows.length ? 'the server made request' +
			    (sleptRows.length > 1 ? 's ' : ' ') +
			    list(sleptRows.map(function (r) { return r.index + 1; })) + ' sleep' : 'no request slept') +
			    ': this server ignores <code>?sleep=</code> (it runs with ' +
			    '<code>SYNCASYNC_QUERY_OVERRIDES=0</code>) and picks its sleeper by its own rule, ' +
			    '<code>SYNCASYNC_SLEEP_ON</code>.  The demo\u2019s lab ' +
			    '(<code>deploy/syncasync-demo --lab</code>) lets the page choose.'));
		if (n.verdict !== s.verdict && s.failed === 0)
			box.appendChild(para('Counted from the moment the page called <code>fetch()</code>, ' +
			    'the verdict would be <strong>' + esc(n.verdict) + '</strong> (' + n.held_up +
			    ' held up): the difference is time spent queued in the browser, ' +
			    'not on the server (see \u201cThe browser\u2019s queue\u201d).'));
	}

	function browserReport(run) {
		var box = $('browser'), queued, maxQ = 0, newConn = 0;

		box.textContent = '';
		$('browser-panel').hidden = false;
		if (!run.timingOk) {
			box.appendChild(para('Resource Timing gave no details for some requests (the ' +
			    'answers lack <code>Timing-Allow-Origin</code>?): their wait in the ' +
			    'browser is unknown and their latency counts from the <code>fetch()</code> call.'));
		}
		run.rows.forEach(function (r) {
			if (r.browser.queued_ms !== null)
				maxQ = Math.max(maxQ, r.browser.queued_ms);
			if (r.browser.new_connection)
				newConn++;
		});
		/* Queued: waited long, and at least half as long as the longest
		 * (a slow connection set-up on a busy machine is not a queue). */
		queued = run.rows.filter(function (r) {
			return r.browser.queued_ms !== null &&
			    r.browser.queued_ms >= Math.max(QUEUED_MS, maxQ / 2);
		});
		box.appendChild(para((run.cfg.spread ?
		    'Spread over ' + Math.min(HOSTS, run.rows.length) + ' host name' +
		    (run.rows.length > 1 ? 's' : '') + ' (127.0.0.1 \u2026 127.0.0.' +
		    Math.min(HOSTS, run.rows.length) + ', all this one server).' :
		    'All ' + run.rows.length + ' requests to one host name, <code>' +
		    esc(location.host) + '</code>.') +
		    ' The longest wait inside the browser before a request was sent: <strong>' +
		    maxQ.toFixed(0) + ' ms</strong>; ' + newConn + ' request' + (newConn === 1 ? '' : 's') +
		    ' opened a new connection.'));
		if (queued.length > 0) {
			box.appendChild(para('Request' + (queued.length > 1 ? 's ' : ' ') +
			    list(queued.map(function (r) { return r.index + 1; })) +
			    ' waited in the browser (hatched in the timeline) until a connection ' +
			    'was free: a browser opens at most 6 connections per host name, so ' +
			    'with one host name the 7th request waits for one of the first 6 to be ' +
			    'answered.  That wait is the browser\u2019s, not the server\u2019s: ' +
			    'the verdict counts each request from the moment it left the browser.' +
			    (run.cfg.spread ? '' : ' Tick \u201cSpread over 10 host names\u201d and run again: ' +
			    'each request gets its own connection.')));
			box.querySelector('p:last-child').className = 'note';
		} else if (!run.cfg.spread && run.rows.length > 6) {
			box.appendChild(para('No request waited long here: the first six answers came ' +
			    'quickly enough to free their connections.  Make every request sleep ' +
			    '(<code>all</code>) to watch requests 7\u201310 wait for 1\u20136.'));
		}
	}

	function serverReport(run) {
		var box = $('server'), a = run.statsAfter, b = run.statsBefore, stalls, mine;

		box.textContent = '';
		$('server-panel').hidden = !isAsyncPath(run.cfg.path);
		if (!isAsyncPath(run.cfg.path))
			return;
		if (!a) {
			box.appendChild(para('<code>' + esc(run.cfg.path) +
			    '/stats</code> did not answer: no report.'));
			return;
		}
		stalls = a.stalls - (b ? b.stalls : 0);
		mine = run.rows.some(function (r) {
			return r.parsed && r.request_no === a.longest_stall_request;
		});
		box.appendChild(para('<code>GET ' + esc(run.cfg.path) + '/stats</code> after the run ' +
		    '(the loop\u2019s watchdog, which asyncio\u2019s debug mode also has): <strong>' +
		    stalls + ' stall' + (stalls === 1 ? '' : 's') + '</strong> of the event loop during ' +
		    'this run.' + (stalls > 0 && mine ? ' The longest so far, ' +
		    Number(a.longest_stall_ms).toFixed(0) + ' ms, was request #' + a.longest_stall_request +
		    ' holding the loop.' : '') + (stalls === 0 ? ' The loop never stopped.' : '')));
		if (Array.isArray(a.blocks) && a.blocks.length > 0) {
			var ul = document.createElement('ul');
			a.blocks.forEach(function (blk) {
				var li = document.createElement('li');
				li.textContent = typeof blk === 'object' && blk !== null ?
				    Object.keys(blk).map(function (k) { return k + ': ' + blk[k]; }).join(', ') :
				    String(blk);
				ul.appendChild(li);
			});
			box.appendChild(para('What blocked the loop (the server\u2019s <code>blocks</code> list):'));
			box.appendChild(ul);
		}
		box.appendChild(para('Pool threads: ' + a.pool_threads + ' (busy ' + a.pool_busy +
		    ', queued ' + a.pool_queued + '); requests served by this process: ' + a.served + '.'));
	}

	function table(run) {
		var t = $('table'), html;

		html = '<thead><tr><th scope="col">sent</th><th scope="col">server #</th>' +
		    '<th scope="col">host</th><th scope="col">in the browser (ms)</th>' +
		    '<th scope="col">started on the server (ms)</th><th scope="col">latency (ms)</th>' +
		    '<th scope="col">thread</th><th scope="col">pid</th><th scope="col">message or error</th>' +
		    '</tr></thead><tbody>';
		var t0 = Math.min.apply(null, run.rows.map(function (r) { return r.fetch_us; }));
		run.rows.forEach(function (r) {
			html += '<tr' + (rowSleeper(r) ? ' class="sleeper"' : '') + '><td>' + (r.index + 1) +
			    '</td><td>' + (r.parsed ? r.request_no : '\u2014') + '</td><td>' + esc(r.host) +
			    '</td><td>' + (r.browser.queued_ms === null ? '?' : r.browser.queued_ms.toFixed(0)) +
			    '</td><td>' + (r.parsed ? ((r.started_us - t0) / 1000).toFixed(0) : '\u2014') +
			    '</td><td>' + latencyMs(r).toFixed(0) + '</td><td>' + (r.parsed ? r.thread_id : '') +
			    '</td><td>' + (r.parsed ? r.pid : '') + '</td><td>' +
			    esc(r.error || r.message) + '</td></tr>';
		});
		t.innerHTML = html + '</tbody>';
		$('table-box').hidden = false;
	}

	function setExports(run) {
		var json = JSON.stringify(exportJson(run), null, 2) + '\n';
		var picture = svg(run, { order: 'server' }), name;

		state.exportUrls.forEach(function (u) { URL.revokeObjectURL(u); });
		state.exportUrls = [
			URL.createObjectURL(new Blob([json], { type: 'application/json' })),
			URL.createObjectURL(new Blob([picture], { type: 'image/svg+xml' }))
		];
		name = 'lab' + run.cfg.path.replace(/\//g, '-') + '-' + run.id;
		$('export-json').href = state.exportUrls[0];
		$('export-json').download = name + '.json';
		$('export-svg').href = state.exportUrls[1];
		$('export-svg').download = name + '.svg';
		$('exports').hidden = false;
		state.json = json;
		state.svg = picture;
	}

	/* ---- driving -------------------------------------------------------- */

	function draw(run, live) {
		var markup = svg(run, { live: live, nowUs: epochUs(run, performance.now()), order: 'send' });
		/* The inline copy: no XML declaration inside HTML. */
		$('timeline').innerHTML = markup.replace(/^<\?xml[^>]*>\n/, '');
	}

	function status(text) {
		$('status').textContent = text;
	}

	function onRun(event) {
		var cfg, run, frame;

		event.preventDefault();
		if (state.running)
			return;
		try {
			cfg = readForm();
		} catch (e) {
			status(e.message);
			$('status').className = 'error';
			return;
		}
		$('status').className = '';
		state.running = true;
		$('run').setAttribute('aria-disabled', 'true');
		$('verdict').hidden = true;
		run = startRun(cfg);
		state.run = run;
		status('Running: ' + cfg.count + ' requests to ' + cfg.path + '\u2026');
		function tick() {
			draw(run, true);
			if (!run.done)
				frame = requestAnimationFrame(tick);
		}
		fetchStats(cfg.path).then(function (before) {
			run.statsBefore = before;
			run.offsetMs = clockOffsetMs();
			frame = requestAnimationFrame(tick);
			return execute(run);
		}).then(function () {
			return collectTimings(run);
		}).then(function () {
			return fetchStats(cfg.path);
		}).then(function (after) {
			run.statsAfter = after;
			run.done = true;
			cancelAnimationFrame(frame);
			settleTimes(run);
			run.summary = summarize(run.rows, latencyMs);
			run.naive = summarize(run.rows, function (r) {
				return r.received_us ? (r.received_us - r.fetch_us) / 1000 : 0;
			});
			draw(run, false);
			explain(run);
			browserReport(run);
			serverReport(run);
			table(run);
			setExports(run);
			$('verdict').hidden = false;
			status('Done: ' + run.summary.verdict + '.');
		}).catch(function (e) {
			run.done = true;
			status('The run went wrong: ' + e.message);
			$('status').className = 'error';
			if (window.console)
				console.warn(e);
		}).then(function () {
			state.running = false;
			$('run').removeAttribute('aria-disabled');
			state.runs = (state.runs || 0) + 1;
		});
	}

	$('controls').addEventListener('submit', onRun);
	$('spread').addEventListener('change', function () {
		status(this.checked ? 'Requests go to 10 host names.' :
		    'Requests go to one host name: the browser will queue past 6.');
	});
	/* Spreading needs the page at 127.0.0.1 and a server that listens on
	 * 127.0.0.2 ... and allows this origin (deploy/lighttpd-lab.conf). */
	if (location.protocol !== 'http:' || !/^127\.0\.0\.1(:|$)/.test(location.host)) {
		$('spread').checked = false;
		status('Opened as ' + location.host + ': spreading over 127.0.0.1 \u2026 127.0.0.10 ' +
		    'works when the page is opened at http://127.0.0.1:PORT/lab/, so it is off.');
	} else {
		fetch('http://' + hostFor(HOSTS - 1, true) + location.pathname.replace(/[^/]*$/, '') +
		    'lab.css?lab=check-' + Date.now(), { cache: 'no-store', credentials: 'omit' })
		    .then(function (r) {
			if (!r.ok)
				throw new Error('HTTP ' + r.status);
		    }).catch(function () {
			$('spread').checked = false;
			status('This server does not answer the page on 127.0.0.10 (it is not the ' +
			    'lab\u2019s lighttpd: deploy/syncasync-demo --lab), so every request goes ' +
			    'to one host name; past 6 requests the browser queues them.');
		    });
	}

	window.syncasyncLab = {
		state: state,
		summarize: function () { return state.run && state.run.summary; },
		json: function () { return state.json; },
		svg: function () { return state.svg; }
	};
})();
