/** Private groups over REST: create, read, add members or change roles, remove members. */
import type { Chat } from '../src/chat/chat.ts';
import { Group, GroupMemberParams, GroupParams } from '../src/openapi/schemas.ts';
import { CreateGroupBody, SetRoleBody } from '../src/protocol/inbound.ts';
import type { AuthEnv } from './auth.ts';
import { RestRoutes } from './rest.ts';

const NOT_MEMBER = 'The caller is not a member, or the group does not exist (ids are not secret, a group\'s title and members are)';

export function groupRoutes(chat: Chat): RestRoutes<AuthEnv> {
  return new RestRoutes<AuthEnv>('groups', true)
    .add(
      {
        method: 'post',
        path: '/v1/groups',
        id: 'createGroup',
        summary: 'Create a private group',
        description: 'The caller becomes its `owner`; `id` is generated when absent. Its room is `grp:<id>`. At most 1000 members, the owner included.',
        body: CreateGroupBody,
        ok: { 201: { description: 'The group', body: Group } },
        refuses: { 409: 'A group with this id exists' },
      },
      async (c, { body }) => c.json(await chat.groups.create(c.var.user, body), 201),
    )
    .add(
      {
        method: 'get',
        path: '/v1/groups/:id',
        id: 'getGroup',
        summary: 'A group, for its members',
        params: GroupParams,
        ok: { 200: { description: 'The group', body: Group } },
        refuses: { 403: NOT_MEMBER },
      },
      async (c, { params: { id } }) => c.json(await chat.groups.get(c.var.user, id)),
    )
    .add(
      {
        method: 'put',
        path: '/v1/groups/:id/members/:user',
        id: 'setGroupMember',
        summary: "Add a member, or change a member's role",
        description: 'The owner and admins add members; only the owner grants or takes `admin`.',
        params: GroupMemberParams,
        body: SetRoleBody,
        ok: { 200: { description: 'The group', body: Group } },
        refuses: { 403: `${NOT_MEMBER}, or its role does not allow this change`, 409: 'The change would leave the group over 1000 members, or change the owner' },
      },
      async (c, { params: { id, user }, body: { role } }) => c.json(await chat.groups.setRole(c.var.user, id, user, role)),
    )
    .add(
      {
        method: 'delete',
        path: '/v1/groups/:id/members/:user',
        id: 'removeGroupMember',
        summary: 'Remove a member, or leave',
        description: "The owner and admins remove members; only the owner removes an admin; nobody removes the owner; any member removes itself (leaves). The removed user's sockets get `left` with reason `removed`.",
        params: GroupMemberParams,
        ok: { 204: { description: 'Removed' } },
        refuses: { 403: `${NOT_MEMBER}, or its role does not allow this removal`, 409: 'The owner cannot leave' },
      },
      async (c, { params: { id, user } }) => {
        await chat.groups.remove(c.var.user, id, user);
        return c.body(null, 204);
      },
    );
}
