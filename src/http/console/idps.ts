/**
 * What the setup page tells a customer's IT admin for each identity
 * provider: where to click and what to paste. Kept as data beside the
 * README's "Connecting identity providers", which it follows.
 */
export interface IdpGuide {
  id: string;
  name: string;
  /** Steps; `{baseUrl}` and `{token}` name the values shown beside them. */
  steps: string[];
  /** Where the IdP asks for the base URL and the token. */
  fields: { baseUrl: string; token: string };
}

export const IDP_GUIDES: IdpGuide[] = [
  {
    id: 'entra',
    name: 'Microsoft Entra ID',
    fields: { baseUrl: 'Tenant URL', token: 'Secret Token' },
    steps: [
      'In the Microsoft Entra admin center, open Enterprise applications › New application › Create your own application, choose "Integrate any other application you don\u2019t find in the gallery (Non-gallery)" and create it.',
      'Open Provisioning › Get started, and set Provisioning Mode to Automatic.',
      'Under Admin Credentials, paste the Tenant URL and the Secret Token below, then select Test Connection.',
      'Under Mappings, keep the user attributes you need; custom attributes go to urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:<name>.',
      'Assign the users and groups to provision under Users and groups, set Provisioning Status to On, and save.',
    ],
  },
  {
    id: 'okta',
    name: 'Okta',
    fields: { baseUrl: 'SCIM connector base URL', token: 'Bearer token (HTTP Header)' },
    steps: [
      'In the Okta Admin Console, go to Applications › Create App Integration, choose SWA or SAML, then on the General tab enable SCIM provisioning.',
      'On the Provisioning tab, Integration: paste the SCIM connector base URL below, set "Unique identifier field for users" to userName, and tick Push New Users, Push Profile Updates and Push Groups.',
      'Choose Authentication Mode "HTTP Header" and paste the bearer token below; select Test Connector Configuration, then Save.',
      'Under Provisioning › To App, enable Create Users, Update User Attributes and Deactivate Users.',
      'Assign people and groups on the Assignments tab; push groups on the Push Groups tab.',
    ],
  },
  {
    id: 'onelogin',
    name: 'OneLogin',
    fields: { baseUrl: 'SCIM Base URL', token: 'SCIM Bearer Token' },
    steps: [
      'In OneLogin, go to Applications › Add App and choose "SCIM Provisioner with SAML (SCIM v2 Enterprise)".',
      'On the Configuration tab, paste the SCIM Base URL and the SCIM Bearer Token below, then select Enable under API Connection.',
      'On the Provisioning tab, tick Enable provisioning and choose what deletions and suspensions do.',
      'Assign the app to users (or by roles) to provision them.',
    ],
  },
  {
    id: 'jumpcloud',
    name: 'JumpCloud',
    fields: { baseUrl: 'Base URL', token: 'Token Key' },
    steps: [
      'In the JumpCloud Admin Portal, go to SSO Applications › Add New Application › Custom Application, and enable "Manage Identities via SCIM".',
      'On the Identity Management tab, choose SCIM 2.0, paste the Base URL and the Token Key below, and select Test Connection.',
      'Activate, then bind user groups to the application to provision their members.',
    ],
  },
  {
    id: 'other',
    name: 'Another SCIM 2.0 client',
    fields: { baseUrl: 'SCIM base URL', token: 'Bearer token' },
    steps: [
      'Configure your SCIM 2.0 client with the base URL below; it sends Users to {baseUrl}/Users and Groups to {baseUrl}/Groups.',
      'Authenticate with the header "Authorization: Bearer <token>", using the token below.',
      'Send the enterprise extension (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User) for department, manager and employee number, and custom fields as urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:<name>.',
    ],
  },
];

/** The attributes the setup page asks the IdP to send. */
export const EXPECTED_ATTRIBUTES: [scim: string, meaning: string][] = [
  ['userName', 'Unique sign-in name, usually the email address (required)'],
  ['externalId', 'The IdP\u2019s immutable id of the user (objectId in Entra ID, id in Okta)'],
  ['name.givenName, name.familyName', 'First and last name'],
  ['emails[type eq "work"].value', 'Work email'],
  ['active', 'Whether the user may sign in (false deactivates)'],
  ['title', 'Job title'],
  ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', 'Department'],
  ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager', 'Manager (the manager\u2019s id)'],
  ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:<name>', 'Any custom field the application asked for, by its name'],
];
