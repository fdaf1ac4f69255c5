// Evaluates IAM requests with @cloud-copilot/iam-simulate (AWS's policy evaluation logic: explicit Deny,
// Allow, wildcards, NotAction/NotResource, every condition operator). Reads a JSON array of
// {id, principal, action, resource, account, context, policies: [{name, policy}], resource_policy?} on stdin and prints
// [{id, result, error}] (result: Allowed | ImplicitlyDenied | ExplicitlyDenied | Error).
// IAM_SIMULATE_HOME is the directory make install ran `npm ci` in.
'use strict';
const path = require('path');
const { createRequire } = require('module');
const home = process.env.IAM_SIMULATE_HOME;
if (!home) { console.error('IAM_SIMULATE_HOME is not set'); process.exit(2); }
const { runSimulation, runUnsafeSimulation } = createRequire(path.join(home, 'package.json'))('@cloud-copilot/iam-simulate');

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const results = [];
  for (const r of requests) {
    const simulation = {
      request: { principal: r.principal, action: r.action, resource: { resource: r.resource, accountId: r.account },
                 contextVariables: r.context || {} },
      identityPolicies: r.policies, serviceControlPolicies: [], resourceControlPolicies: [],
    };
    if (r.resource_policy) simulation.resourcePolicy = r.resource_policy;
    try {
      let out = await runSimulation(simulation, { simulationMode: 'Strict' });
      // An ARN that fits two resource types of the action (e.g. backup:ListTags on a vault or a plan): the
      // request is still well formed, evaluate it without the resource-type validation.
      if (out.resultType === 'error' && JSON.stringify(out.errors).includes('multiple.resource.types')) {
        out = { resultType: 'single', overallResult: runUnsafeSimulation(simulation, { simulationMode: 'Strict' }) };
      }
      if (out.resultType === 'error') {
        results.push({ id: r.id, result: 'Error', error: JSON.stringify(out.errors) });
      } else {
        results.push({ id: r.id, result: out.overallResult, error: '' });
      }
    } catch (err) {
      results.push({ id: r.id, result: 'Error', error: String(err && err.message || err) });
    }
  }
  process.stdout.write(JSON.stringify(results));
}
main().catch((err) => { console.error(err); process.exit(1); });
