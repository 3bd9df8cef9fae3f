// Calls billing.usage.get() with a list of metric ids, as a TypeScript user would, and prints
// the records' metric ids as JSON. The SDK encodes the list by repeating the parameter
// (qs arrayFormat "repeat": metric_id=a&metric_id=b).
import Cloudflare from 'cloudflare';

const [baseURL, apiToken, accountId, from, to, ...metricIds] = process.argv.slice(2);
const client = new Cloudflare({ apiToken, baseURL, maxRetries: 0 });
const records = await client.billing.usage.get({
  account_id: accountId, from, to, metric_id: metricIds,
});
console.log(JSON.stringify(records.map((r) => [r.x_BillableMetricId, r.ChargePeriodStart])));
