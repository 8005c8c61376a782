// The labelq CDK app: `npm run deploy:synth` (or `cd deploy/cdk && npx cdk deploy`). Settings
// come from CDK context (cdk.json, overridden with -c key=value); see docs/deploy.md.
import { App } from "aws-cdk-lib";
import { stackPropsFromContext } from "./context.ts";
import { LabelqStack } from "./labelq-stack.ts";

const app = new App();
const { stackName, props } = stackPropsFromContext((key) => app.node.tryGetContext(key));
new LabelqStack(app, stackName, props);
app.synth();
