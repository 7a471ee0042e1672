#!/usr/bin/env node
// Validate FHIR R4 JSON resources against the HL7 FHIR R4 JSON schema.
// Usage: node validate.js FILE...   (a file may hold one resource or an array)
// Prints "valid: FILE" or the schema errors; exits 1 if any resource is invalid.
'use strict';
const fs = require('fs');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const validator = new JSONSchemaValidator();
let failed = false;
for (const file of process.argv.slice(2)) {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  const resources = Array.isArray(parsed) ? parsed : [parsed];
  resources.forEach((resource, i) => {
    const errors = validator.validate(resource);
    if (errors.length === 0) {
      console.log(`valid: ${file}[${i}] ${resource.resourceType}`);
    } else {
      failed = true;
      console.log(`invalid: ${file}[${i}] ${resource.resourceType}`);
      for (const e of errors) {
        console.log(`  ${e.dataPath || e.instancePath || ''} ${e.message} ${JSON.stringify(e.params)}`);
      }
    }
  });
}
process.exit(failed ? 1 : 0);
