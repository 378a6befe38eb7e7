// Assertions the SDK scripts share (in lib/ so run.sh does not run it as a script).
'use strict';

const assert = require('node:assert');

// Awaits `promise` and expects it to fail with HTTP `status`; returns the SDK's error. `what`
// (optional) names the call in the failure message.
async function expectStatus(status, promise, what) {
  const label = what ? `${what}: ` : '';
  try {
    await promise;
  } catch (error) {
    const got = error.response && error.response.statusCode;
    assert.strictEqual(got, status, `${label}expected HTTP ${status}, got ${got}: ${error.message}`);
    return error;
  }
  throw new Error(`${label}expected HTTP ${status}, the call succeeded`);
}

module.exports = { expectStatus };
