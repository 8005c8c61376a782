import type { Message, MessageAttributeValue } from "@aws-sdk/client-sqs";
import type { SQSMessageAttribute, SQSRecord } from "aws-lambda";

/**
 * An SQS record of a Lambda event as the SDK's Message, so the Lambda handler passes it to
 * the same message handler the worker pool uses. The event spells the same fields in
 * camelCase and carries binary attribute values as base64.
 */
export function messageFromRecord(record: SQSRecord): Message {
  return {
    MessageId: record.messageId,
    ReceiptHandle: record.receiptHandle,
    Body: record.body,
    MD5OfBody: record.md5OfBody,
    MD5OfMessageAttributes: record.md5OfMessageAttributes,
    Attributes: Object.fromEntries(Object.entries(record.attributes).filter(([, v]) => v !== undefined)),
    MessageAttributes: Object.fromEntries(Object.entries(record.messageAttributes).map(([name, a]) => [name, attributeValue(a)])),
  };
}

function attributeValue(a: SQSMessageAttribute): MessageAttributeValue {
  return {
    DataType: a.dataType,
    ...(a.stringValue !== undefined ? { StringValue: a.stringValue } : {}),
    ...(a.binaryValue !== undefined ? { BinaryValue: Buffer.from(a.binaryValue, "base64") } : {}),
  };
}
